"""One contract test over every method: named scalar terms, gradients equal to plain autograd on the
same batch, none for the teacher, no stale gradient rows after a step, and a loud failure for a
method that reaches a student table outside the Batch."""
import numpy as np
import pytest
import torch

from Models.BPR import BPR
from Models.CD import CD
from Models.DE import DE
from Models.method import Batch, Combined, Method
from Models.RD import RD
from Models.RRD import IRRRD, URRD
from Utils.csr import build_csr
from Utils.dataset import SplitData
from Utils.ranking_lists import top_unobserved
from Utils.row_gradients import RowGradients, guard_against_direct_use
from Utils.trainer import bpr_step, make_optimizer

N_USERS, N_ITEMS, D_T, D_S, LENGTH = 30, 60, 8, 4, 10


class ShrinkBatchUsers(Method):
    """A method defined only here, as a contributor would write one: pull the batch users' rows to 0."""
    name = "toy"

    def loss(self, batch):
        return {"toy": 0.1 * batch.user_rows(torch.unique(batch.users)).pow(2).sum()}


class IndexesTheTableDirectly(Method):
    """What the contract forbids: autograd through the student's Parameter itself."""
    name = "bad"

    def loss(self, batch):
        return {"bad": batch.student.item_emb[batch.pos].pow(2).sum()}


def toy_split():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(N_USERS), 6)
    items = np.concatenate([rng.choice(N_ITEMS, 6, replace=False) for _ in range(N_USERS)])
    return SplitData("toy", N_USERS, N_ITEMS, users, items, np.full(N_USERS, -1), np.full(N_USERS, -1), "hand")


def lists(teacher, split, side):
    if side == "user":
        ptr, cols = build_csr(split.train_users, split.train_items, split.n_users, torch.device("cpu"))
        return top_unobserved(teacher.user_emb, teacher.item_emb, ptr, cols, LENGTH)
    ptr, cols = build_csr(split.train_items, split.train_users, split.n_items, torch.device("cpu"))
    return top_unobserved(teacher.item_emb, teacher.user_emb, ptr, cols, LENGTH)


def urrd(t, s, g, **kw):
    return URRD(lists(t, s, "user"), s, g, lmbda=1.0, K=3, L=5, **kw)


def ir_rrd(t, s, g):
    user_side = urrd(t, s, g)
    return Combined([user_side, IRRRD(lists(t, s, "item"), s, g, user_side, lmbda=1.0, K=2, L=3)])


METHODS = {   # name -> builder(teacher, split, generator)
    "DE": lambda t, s, g: DE(t, D_S, g, lmbda=1.0, num_experts=3),
    "URRD": urrd,
    "URRD_unsampled": lambda t, s, g: urrd(t, s, g, sampling="none"),
    "IR_RRD": ir_rrd,
    "DERRD": lambda t, s, g: Combined([DE(t, D_S, g, lmbda=1.0, num_experts=3), urrd(t, s, g)]),
    "RD": lambda t, s, g: RD(lists(t, s, "user"), s, g, lmbda=1.0, K=3, n_samples=20, dynamic_start=0),
    "CD": lambda t, s, g: CD(t, lists(t, s, "user"), s, g, lmbda=1.0, n_d=2),
    "CD_student": lambda t, s, g: CD(t, lists(t, s, "user"), s, g, lmbda=1.0, n_d=2, guide="student"),
    "toy": lambda t, s, g: ShrinkBatchUsers(),
}


class PlainBatch(Batch):
    """The same API through plain autograd on the Parameters: the reference the fast path must equal."""

    def _rows(self, table, index):
        return table[index]

    def item_table(self):
        return self.student.item_emb

    def user_table(self):
        return self.student.user_emb

    def item_scores(self, user_rows, items):
        return (user_rows.unsqueeze(-2) * self.student.item_emb[items]).sum(-1)

    def user_scores(self, item_rows, users):
        return (item_rows.unsqueeze(-2) * self.student.user_emb[users]).sum(-1)


def build(name):
    """(method, student, teacher) with every random state fixed, so two builds are identical."""
    torch.manual_seed(0)
    teacher = BPR(N_USERS, N_ITEMS, D_T).requires_grad_(False)
    with torch.no_grad():
        teacher.user_emb.mul_(100)
        teacher.item_emb.mul_(100)
    student = BPR(N_USERS, N_ITEMS, D_S)
    method = METHODS[name](teacher, toy_split(), torch.Generator().manual_seed(1))
    method.start_epoch(0)
    return method, student, teacher


BATCH = (torch.tensor([0, 3, 3, 7, 11]), torch.tensor([1, 5, 9, 2, 40]), torch.tensor([30, 31, 32, 33, 34]))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_loss_terms_and_gradients_match_plain_autograd(name):
    method, student, teacher = build(name)
    grads = RowGradients([student.user_emb, student.item_emb])
    guard = guard_against_direct_use([student.user_emb, student.item_emb])
    terms = method.loss(Batch(*BATCH, student, grads))
    assert terms and all(isinstance(k, str) and v.dim() == 0 and torch.isfinite(v) for k, v in terms.items())
    extra = list(method.parameters())
    sum(terms.values()).backward()
    grads.accumulate()
    fast = (student.user_emb.grad.clone(), student.item_emb.grad.clone(), [p.grad.clone() for p in extra])
    for handle in guard:
        handle.remove()

    ref_method, ref_student, ref_teacher = build(name)
    ref_terms = ref_method.loss(PlainBatch(*BATCH, ref_student, None))
    assert sorted(ref_terms) == sorted(terms)
    for k in terms:
        assert terms[k].item() == pytest.approx(ref_terms[k].item(), rel=1e-5, abs=1e-6)
    sum(ref_terms.values()).backward()
    for mine, table in zip(fast[:2], (ref_student.user_emb, ref_student.item_emb)):
        ref = table.grad if table.grad is not None else torch.zeros_like(table)
        assert torch.allclose(mine, ref, rtol=1e-4, atol=1e-6)
    for mine, ref in zip(fast[2], ref_method.parameters()):
        assert torch.allclose(mine, ref.grad, rtol=1e-4, atol=1e-6)
    assert teacher.user_emb.grad is None and teacher.item_emb.grad is None


@pytest.mark.parametrize("name", sorted(METHODS))
def test_no_stale_gradient_rows_after_a_step(name):
    method, student, _ = build(name)
    grads = RowGradients([student.user_emb, student.item_emb])
    optimizer = make_optimizer([student.user_emb, student.item_emb] + list(method.parameters()), 1e-2, 1e-3)
    for _ in range(2):
        batch = Batch(*BATCH, student, grads)
        terms = {"BPR": bpr_step(batch), **method.loss(batch)}
        sum(v for k, v in terms.items() if k != "BPR").backward()
        grads.accumulate()
        optimizer.step()
        grads.clear()
        assert student.user_emb.grad.abs().sum() == 0 and student.item_emb.grad.abs().sum() == 0


def test_a_method_indexing_a_student_table_directly_fails_loudly():
    student = BPR(N_USERS, N_ITEMS, D_S)
    grads = RowGradients([student.user_emb, student.item_emb])
    guard_against_direct_use([student.user_emb, student.item_emb])
    terms = IndexesTheTableDirectly().loss(Batch(*BATCH, student, grads))
    with pytest.raises(RuntimeError, match="indexed a student table directly"):
        sum(terms.values()).backward()
