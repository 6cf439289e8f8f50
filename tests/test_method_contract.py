"""One contract test over every method: named scalar terms, gradients equal to plain autograd on the
same batch, none for the teacher, no stale gradient rows after a step, and a loud failure for a
method that reaches a student table outside the Batch."""
import numpy as np
import pytest
import torch

from Models.zoo import BASE_MODELS
from Models.CD import CD
from Models.DCD import DCD
from Models.DE import DE
from Models.HetComp import HetComp
from Models.method import Batch, Combined, Method
from Models.RD import RD
from Models.RRD import IRRRD, URRD
from Models.RCEKD import RCEKD
from Models.TD import FTD, HTD
from Models.UnKD import UnKD
from Utils.tensors.csr import build_csr
from Utils.data.dataset import SplitData
from Utils.training.hetcomp import observed_in_teacher_order
from Utils.tensors.top_unobserved import top_unobserved, top_unobserved_by
from Utils.tensors.row_gradients import RowGradients, guard_against_direct_use
from Utils.training.trainer import make_optimizer

N_USERS, N_ITEMS, D_T, D_S, LENGTH = 30, 60, 8, 4, 10


class ShrinkBatchUsers(Method):
    """A method defined only here, as a contributor would write one: pull the batch users' rows to 0."""
    name = "toy"

    def loss(self, batch):
        return {"toy": 0.1 * batch.user_repr(torch.unique(batch.users)).pow(2).sum()}


class IndexesTheTableDirectly(Method):
    """What the contract forbids: autograd through the student's Parameter itself."""
    name = "bad"

    def loss(self, batch):
        return {"bad": batch.student.tables()[-1][:3].pow(2).sum()}


def toy_split():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(N_USERS), 6)
    items = np.concatenate([rng.choice(N_ITEMS, 6, replace=False) for _ in range(N_USERS)])
    return SplitData("toy", N_USERS, N_ITEMS, users, items, np.full(N_USERS, -1), np.full(N_USERS, -1), "hand")


def lists(teacher, split, side):
    if side == "user":
        ptr, cols = build_csr(split.train_users, split.train_items, split.n_users, torch.device("cpu"))
        return top_unobserved_by(teacher.score_all, split.n_users, ptr, cols, LENGTH, torch.device("cpu"))
    ptr, cols = build_csr(split.train_items, split.train_users, split.n_items, torch.device("cpu"))
    return top_unobserved(teacher.item_emb, teacher.user_emb, ptr, cols, LENGTH)


def urrd(t, s, g, **kw):
    return URRD(lists(t, s, "user"), s, g, lmbda=1.0, K=3, L=5, **kw)


def ir_rrd(t, s, g):
    user_side = urrd(t, s, g)
    return Combined([user_side, IRRRD(lists(t, s, "item"), s, g, user_side, lmbda=1.0, K=2, L=3)])


def hetcomp(t, s, final=False):
    """Two 'teachers' of two checkpoints each, made from the teacher's lists (reversed, rolled)."""
    top = lists(t, s, "user")
    trajectories = [torch.stack([top.flip(1), top]), torch.stack([top.roll(1, 1), top])]
    method = HetComp(trajectories, observed_in_teacher_order([t], s, 3, 10.0, torch.device("cpu")), s, None,
                     lmbda=1.0, lmbda_final=1.0, K=6, final_top=4, final_sub=2)
    if final:
        method.schedule.current[:] = 1
        method.final, method.top = True, method.current_ensemble()
    return method


METHODS = {   # name -> builder(teacher, split, generator, student representation size)
    "DE": lambda t, s, g, r: DE(t, r, g, lmbda=1.0, num_experts=3),
    "URRD": lambda t, s, g, r: urrd(t, s, g),
    "URRD_unsampled": lambda t, s, g, r: urrd(t, s, g, sampling="none"),
    "IR_RRD": lambda t, s, g, r: ir_rrd(t, s, g),
    "DERRD": lambda t, s, g, r: Combined([DE(t, r, g, lmbda=1.0, num_experts=3), urrd(t, s, g)]),
    "RD": lambda t, s, g, r: RD(lists(t, s, "user"), s, g, lmbda=1.0, K=3, n_samples=20, dynamic_start=0),
    "CD_teacher": lambda t, s, g, r: CD(t, lists(t, s, "user"), s, g, lmbda=1.0, n_d=2, guide="teacher"),
    "CD": lambda t, s, g, r: CD(t, lists(t, s, "user"), s, g, lmbda=1.0, n_d=2, guide="student"),
    "FTD": lambda t, s, g, r: FTD(t, lmbda=1.0),
    "HTD": lambda t, s, g, r: HTD(t, DE(t, r, g, lmbda=1.0, num_experts=3), lmbda=1.0),
    "DCD": lambda t, s, g, r: DCD(lists(t, s, "user"), lists(t, s, "item"), g, 1.0, 1.0, p_n=4),
    "DCD_users": lambda t, s, g, r: DCD(lists(t, s, "user"), None, g, 1.0, 0.0, p_n=4),
    "HetComp": lambda t, s, g, r: hetcomp(t, s),
    "HetComp_final": lambda t, s, g, r: hetcomp(t, s, final=True),
    "UnKD": lambda t, s, g, r: UnKD(t, s, g, lmbda=1.0, n_groups=2, n_pairs=4),
    "RCEKD": lambda t, s, g, r: RCEKD(t, s, g, lmbda=1.0, K=4, L=3, mxK=10),
    "toy": lambda t, s, g, r: ShrinkBatchUsers(),
}
DOT_PRODUCT_ONLY = {"URRD_unsampled", "IR_RRD", "DCD", "HetComp", "HetComp_final"}
CASES = [(model, name) for model in sorted(BASE_MODELS) for name in sorted(METHODS)
         if BASE_MODELS[model].dot_product or name not in DOT_PRODUCT_ONLY]


class PlainBatch(Batch):
    """The same API through plain autograd on the Parameters (the models' own ``score`` and
    representations): the reference the row-sparse, sparse-product path must equal."""

    def rows(self, table, index):
        return table[index]

    def whole(self, table):
        return table

    def scores(self, users, items):
        return self.student.score(users, items)

    def user_repr(self, users):
        return self.student.user_repr(users)

    def item_repr(self, items):
        return self.student.item_repr(items)

    def item_scores(self, user_rows, items):
        return (user_rows.unsqueeze(-2) * self.student.item_emb[items]).sum(-1)

    def user_scores(self, item_rows, users):
        return (item_rows.unsqueeze(-2) * self.student.user_emb[users]).sum(-1)


def build(model, name):
    """(method, student, teacher) with every random state fixed, so two builds are identical."""
    torch.manual_seed(0)
    cls = BASE_MODELS[model]
    split = toy_split()
    attach = (lambda m: m.attach(split)) if hasattr(cls, "attach") else (lambda m: m)   # graph models
    teacher = attach(cls(N_USERS, N_ITEMS, D_T)).requires_grad_(False)
    with torch.no_grad():
        for table in teacher.tables():
            table.mul_(100)
    student = attach(cls(N_USERS, N_ITEMS, D_S))
    with torch.no_grad():          # spread the scores, so that no comparison hangs on rounding
        for table in student.tables():
            table.mul_(30)
    method = METHODS[name](teacher, split, torch.Generator().manual_seed(1), student.repr_dim)
    method.start_epoch(0)
    return method, student, teacher


BATCH = (torch.tensor([0, 3, 3, 7, 11]), torch.tensor([1, 5, 9, 2, 40]), torch.tensor([30, 31, 32, 33, 34]))


@pytest.mark.parametrize("model, name", CASES)
def test_loss_terms_and_gradients_match_plain_autograd(model, name):
    method, student, teacher = build(model, name)
    grads = RowGradients(student.tables())
    guard = guard_against_direct_use(student.tables())
    terms = method.loss(Batch(*BATCH, student, grads))
    assert terms and all(isinstance(k, str) and v.dim() == 0 and torch.isfinite(v) for k, v in terms.items())
    extra = list(method.parameters()) + student.dense_parameters()
    sum(terms.values()).backward()
    grads.accumulate()
    fast = ([t.grad.clone() for t in student.tables()],
            [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in extra])
    for handle in guard:
        handle.remove()

    ref_method, ref_student, ref_teacher = build(model, name)
    ref_terms = ref_method.loss(PlainBatch(*BATCH, ref_student, None))
    assert sorted(ref_terms) == sorted(terms)
    for k in terms:
        assert terms[k].item() == pytest.approx(ref_terms[k].item(), rel=1e-5, abs=1e-6)
    sum(ref_terms.values()).backward()
    for mine, table in zip(fast[0], ref_student.tables()):
        ref = table.grad if table.grad is not None else torch.zeros_like(table)
        assert torch.allclose(mine, ref, rtol=1e-4, atol=1e-6)
    for mine, p in zip(fast[1], list(ref_method.parameters()) + ref_student.dense_parameters()):
        ref = p.grad if p.grad is not None else torch.zeros_like(p)
        assert torch.allclose(mine, ref, rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in teacher.parameters())


@pytest.mark.parametrize("model, name", CASES)
def test_no_stale_gradient_rows_after_a_step(model, name):
    method, student, _ = build(model, name)
    grads = RowGradients(student.tables())
    optimizer = make_optimizer(student.tables() + student.dense_parameters() + list(method.parameters()), 1e-2, 1e-3)
    for _ in range(2):
        batch = Batch(*BATCH, student, grads)
        terms = {"base": student.train_loss(batch), **method.loss(batch)}
        sum(v for v in terms.values() if v.requires_grad).backward()
        grads.accumulate()
        optimizer.step()
        grads.clear()
        assert all(t.grad.abs().sum() == 0 for t in student.tables())


@pytest.mark.parametrize("model", sorted(BASE_MODELS))
def test_a_method_indexing_a_student_table_directly_fails_loudly(model):
    student = BASE_MODELS[model](N_USERS, N_ITEMS, D_S)
    if hasattr(student, "attach"):
        student.attach(toy_split())
    grads = RowGradients(student.tables())
    guard_against_direct_use(student.tables())
    terms = IndexesTheTableDirectly().loss(Batch(*BATCH, student, grads))
    with pytest.raises(RuntimeError, match="indexed a student table directly"):
        sum(terms.values()).backward()


def method_classes_in_models():
    """Every Method subclass defined under Models/ (the methods a user can run), from the source files."""
    import importlib
    import inspect
    import pkgutil
    import Models
    classes = set()
    for info in pkgutil.iter_modules(Models.__path__):
        module = importlib.import_module(f"Models.{info.name}")
        classes |= {c for _, c in inspect.getmembers(module, inspect.isclass)
                    if issubclass(c, Method) and c.__module__ == module.__name__ and c not in (Method, Combined)}
    return classes


def test_every_method_of_the_models_meets_the_contract():
    """A method added under Models/ without a builder in METHODS fails here: the contract, gradient and
    resume tests (this file, tests/test_resume.py) then cover it on every base model."""
    def flatten(method):
        return set().union(*map(flatten, method.methods)) if isinstance(method, Combined) else {type(method)}
    covered = set().union(*(flatten(build("bpr", name)[0]) for name in METHODS))
    missing = method_classes_in_models() - covered
    assert not missing, f"no contract case builds {sorted(c.__name__ for c in missing)}"
    assert {DE, URRD, IRRRD, RD, CD, DCD, FTD, HTD, HetComp} <= covered
