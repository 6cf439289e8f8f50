import math

import numpy as np
import pytest
import torch

from Models.BPR import BPR, bpr_loss
from Models.DE import DE, DistillationExperts, hidden_size, temperature
from Utils.tensors.sampling import gumbel_like
from Models.RRD import URRD, relaxed_ranking_loss, sampled_rrd_loss
from Utils.data.dataset import SplitData
from Utils.tensors.row_gradients import RowGradients
from Models.method import Batch

torch.manual_seed(0)


def test_bpr_loss_against_a_loop():
    u, i, j = torch.randn(6, 4), torch.randn(6, 4), torch.randn(6, 4)
    expected = -sum(math.log(1 / (1 + math.exp(-(float(u[b] @ i[b]) - float(u[b] @ j[b]))))) for b in range(6))
    assert bpr_loss(u, i, j).item() == pytest.approx(expected, rel=1e-5)


def slow_de_loss(module, s, t, tau, noise):
    """Each expert and the mixture written out entity by entity, expert by expert."""
    e = module.experts
    total = 0.0
    for n in range(len(s)):
        alpha = torch.softmax(module.selector.weight @ t[n] + module.selector.bias, 0)
        w = torch.softmax((torch.log(alpha + 1e-10) + noise[n]) / tau, 0)
        t_hat = sum(w[m] * (torch.relu(s[n] @ e.W1[m] + e.b1[m]) @ e.W2[m] + e.b2[m]) for m in range(e.num_experts))
        total = total + ((t[n] - t_hat) ** 2).sum()
    return total


@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_de_loss_against_a_loop_over_experts(tau):
    module = DistillationExperts(5, 4, 10, skip_ratio=0.0)
    s, t = torch.randn(7, 4), torch.randn(7, 10)
    noise = gumbel_like(torch.empty(7, 5), torch.Generator().manual_seed(1))
    assert module.loss(s, t, tau, noise).item() == pytest.approx(slow_de_loss(module, s, t, tau, noise).item(), rel=1e-5)


def test_skipping_negligible_experts_keeps_loss_and_gradients():
    torch.manual_seed(3)
    dense = DistillationExperts(30, 20, 200, skip_ratio=0.0)
    sparse = DistillationExperts(30, 20, 200)
    sparse.load_state_dict(dense.state_dict())
    s, t = torch.randn(300, 20), torch.randn(300, 200)
    noise = gumbel_like(torch.empty(300, 30), torch.Generator().manual_seed(2))
    w = sparse.weights(t, 0.005, noise)
    assert (w >= sparse.skip_ratio * w.max(1, keepdim=True).values).float().mean() < 0.5   # the sparse path runs
    grads = []
    for module in (dense, sparse):
        s_leaf = s.clone().requires_grad_()
        loss = module.loss(s_leaf, t, 0.005, noise)
        loss.backward()
        grads.append([s_leaf.grad] + [p.grad for p in module.parameters()])
        module.zero_grad()
        grads[-1].insert(0, loss.detach())
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * float(a.abs().max())), (a - b).abs().max()


def test_temperature_schedule():
    assert temperature(0) == 1.0 and temperature(1) == 1.0
    assert temperature(101) == pytest.approx(0.1)
    assert temperature(201) == pytest.approx(0.01)
    assert temperature(5000, end_T=1e-10) == 1e-10


def test_sizes_on_citeulike_dims():
    assert hidden_size(20, 200) == 110 and hidden_size(64, 64) == 32
    de = DistillationExperts(30, 20, 200)
    assert sum(p.numel() for p in de.selector.parameters()) * 2 == 12060
    assert sum(p.numel() for p in de.experts.parameters()) * 2 == 1470600


def make_batch(student, users, pos, neg):
    return Batch(users, pos, neg, student, RowGradients([student.user_emb, student.item_emb]))


def test_de_gradients_reach_student_and_modules_never_teacher():
    teacher, student = BPR(10, 15, 12), BPR(10, 15, 4)
    teacher.requires_grad_(False)
    de = DE(teacher, 4, torch.Generator().manual_seed(0), num_experts=3)
    batch = make_batch(student, torch.tensor([0, 1, 1]), torch.tensor([2, 3, 4]), torch.tensor([5, 6, 2]))
    de.start_epoch(0)
    de.loss(batch)["DE"].backward()
    batch.grads.accumulate()
    assert student.user_emb.grad[[0, 1]].abs().sum() > 0 and student.user_emb.grad[2:].abs().sum() == 0
    assert student.item_emb.grad[[2, 3, 4, 5, 6]].abs().sum(1).gt(0).all()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in de.parameters())
    assert teacher.user_emb.grad is None and teacher.item_emb.grad is None


def naive_rrd(a, b):
    out = []
    for row_a, row_b in zip(a.tolist(), b.tolist()):
        loss = 0.0
        for k in range(len(row_a)):
            loss -= row_a[k] - math.log(sum(math.exp(x) for x in row_a[k:]) + sum(math.exp(x) for x in row_b))
        out.append(loss)
    return out


def test_relaxed_ranking_loss_against_a_loop():
    a, b = torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    assert np.allclose(sampled_rrd_loss(a, b).numpy(), naive_rrd(a, b))


def test_relaxed_ranking_loss_is_stable_for_large_scores():
    a, b = torch.tensor([[800.0, 790.0]]), torch.tensor([[-900.0, 805.0]])
    loss = sampled_rrd_loss(a, b)
    assert torch.isfinite(loss).all()
    # by hand: step 1: 800 - log(e^800 + e^790 + e^805) ; step 2: 790 - log(e^790 + e^805)
    expected = -((800 - (805 + math.log1p(math.exp(-5) + math.exp(-15)))) + (790 - (805 + math.log1p(math.exp(-15)))))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # values spanning more than float64's exponent range take the logcumsumexp form:
    # step 1: 1000 - log(e^1000 + e^0 + e^-5 + e^0) = 0 (to double precision); step 2: 0 - log(1 + e^-5 + 1)
    wide = sampled_rrd_loss(torch.tensor([[1000.0, 0.0]], dtype=torch.float64), torch.tensor([[-5.0, 0.0]], dtype=torch.float64))
    assert wide.item() == pytest.approx(math.log(2 + math.exp(-5)), rel=1e-9)


def test_relaxed_ranking_loss_gradient_against_autograd_of_the_definition():
    """The shifted float64 form has the gradient of the plain definition (checked in float64)."""
    a = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    sampled_rrd_loss(a, b).sum().backward()
    fast = (a.grad.clone(), b.grad.clone())
    a.grad = b.grad = None
    rest = torch.exp(b).sum(1, keepdim=True)
    plain = -(a - torch.log(torch.exp(a).flip(1).cumsum(1).flip(1) + rest)).sum()
    plain.backward()
    assert torch.allclose(fast[0], a.grad) and torch.allclose(fast[1], b.grad)


def test_unsampled_loss_against_a_loop():
    n_users, n_items, length, K = 6, 20, 8, 3
    rng = np.random.default_rng(0)
    train_u = np.repeat(np.arange(n_users), 4)
    train_i = np.concatenate([rng.choice(n_items, 4, replace=False) for _ in range(n_users)])
    split = SplitData("x", n_users, n_items, train_u, train_i, np.full(n_users, -1), np.full(n_users, -1), "hand")
    lists = torch.from_numpy(np.stack([rng.choice(np.setdiff1d(np.arange(n_items), train_i[u * 4:u * 4 + 4]),
                                                  length, replace=False) for u in range(n_users)]))
    student = BPR(n_users, n_items, 5)
    student.user_emb.data *= 100
    student.item_emb.data *= 100
    urrd = URRD(lists, split, torch.Generator().manual_seed(0), lmbda=1.0, K=K, L=2, sampling="none")
    users = torch.tensor([0, 2, 2, 5])
    batch = make_batch(student, users, users, users)
    loss = urrd.loss(batch)["URRD"]
    got = loss.item()
    scores = (student.user_emb @ student.item_emb.T).detach().double().numpy()
    expected = 0.0
    for u in (0, 2, 5):
        listed = lists[u].tolist()
        seen = set(train_i[u * 4:u * 4 + 4].tolist())
        rest = [j for j in range(n_items) if j not in seen and j not in listed[:K]]   # positions > K stay in
        a = [scores[u, i] for i in listed[:K]]
        expected += naive_rrd(torch.tensor([a]), torch.tensor([[scores[u, j] for j in rest]]))[0]
    assert got == pytest.approx(expected, rel=1e-4)
    # the chunked custom backward against autograd on the dense masked score matrix
    loss.backward()
    batch.grads.accumulate()
    ref = BPR(n_users, n_items, 5)
    ref.load_state_dict(student.state_dict())
    unique = torch.tensor([0, 2, 5])
    full = ref.user_emb[unique] @ ref.item_emb.T
    a = torch.stack([full[r, lists[u, :K]] for r, u in enumerate(unique.tolist())])
    mask = torch.zeros_like(full, dtype=torch.bool)
    for r, u in enumerate(unique.tolist()):
        mask[r, list(train_i[u * 4:u * 4 + 4]) + lists[u, :K].tolist()] = True
    relaxed_ranking_loss(a, torch.logsumexp(full.masked_fill(mask, -torch.inf), 1)).sum().backward()
    assert torch.allclose(student.user_emb.grad, ref.user_emb.grad, rtol=1e-4, atol=1e-5)
    assert torch.allclose(student.item_emb.grad, ref.item_emb.grad, rtol=1e-4, atol=1e-5)


def test_pair_scores_sparse_path_matches_gather_and_autograd():
    """The CPU sparse form (sampled product forward, two sparse products backward) gives the scores
    and both gradients of the plain gather; columns repeat across rows and are unsorted within them."""
    from Utils.tensors.pair_scores import _SparsePairScores
    gen = torch.Generator().manual_seed(3)
    rows = torch.randn(7, 5, generator=gen, requires_grad=True)
    table = torch.randn(30, 5, generator=gen, requires_grad=True)
    cols = torch.stack([torch.randperm(12, generator=gen)[:4] for _ in range(7)])   # columns 12.. unused
    upstream = torch.randn(7, 4, generator=gen)
    fast = _SparsePairScores.apply(rows, table, cols)
    (fast * upstream).sum().backward()
    fast_grads = rows.grad.clone(), table.grad.clone()
    rows.grad = table.grad = None
    slow = torch.stack([torch.stack([rows[b] @ table[c] for c in cols[b]]) for b in range(7)])
    (slow * upstream).sum().backward()
    assert torch.allclose(fast, slow, atol=1e-5)
    assert torch.allclose(fast_grads[0], rows.grad, atol=1e-5)
    assert torch.allclose(fast_grads[1], table.grad, atol=1e-5)
    assert (fast_grads[1][12:] == 0).all() and (fast_grads[1][:12] != 0).any()


def test_masked_logsumexp_in_chunks_against_the_dense_masked_form(monkeypatch):
    """Several chunks of rows through one reused buffer: values and both gradients as autograd of the
    dense masked logsumexp."""
    from Utils.tensors import masked_logsumexp
    monkeypatch.setitem(masked_logsumexp.CHUNK_ELEMENTS, "cpu", 2 * 17)      # two rows of 17 items per chunk
    torch.manual_seed(5)
    users = (torch.randn(7, 4) * 3).requires_grad_()
    items = (torch.randn(17, 4) * 3).requires_grad_()
    mask = torch.rand(7, 17) < 0.3
    mask[:, 0] = False                                                      # every row keeps an item
    rows, cols = mask.nonzero(as_tuple=True)
    weights = torch.randn(7)
    (masked_logsumexp.MaskedLogSumExp.apply(users, items, rows, cols) * weights).sum().backward()
    got = (masked_logsumexp.MaskedLogSumExp.apply(users, items, rows, cols).detach(), users.grad.clone(),
           items.grad.clone())
    users.grad = items.grad = None
    dense = torch.logsumexp((users @ items.T).masked_fill(mask, -torch.inf), 1)
    (dense * weights).sum().backward()
    assert torch.allclose(got[0], dense.detach(), rtol=1e-5)
    assert torch.allclose(got[1], users.grad, rtol=1e-4, atol=1e-5)
    assert torch.allclose(got[2], items.grad, rtol=1e-4, atol=1e-5)
