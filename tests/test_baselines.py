"""RD and CD (the DE-RRD paper's baselines): losses and weights against slow loop references, the
rank estimate against a brute-force count, CD's draws against the rank-aware distribution."""
import math

import numpy as np
import pytest
import torch

from Models.BPR import BPR
from Models.CD import CD, cd_loss
from Models.RD import RD, discrepancy_weights, position_weights, rd_loss
from Utils.data.dataset import SplitData
from Utils.tensors.row_gradients import RowGradients
from Models.method import Batch


def tiny_split(n_users=6, n_items=30, per_user=4, seed=0):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    return SplitData("x", n_users, n_items, users, items, np.full(n_users, -1), np.full(n_users, -1), "hand")


def unobserved_lists(split, length, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(split.n_users):
        seen = split.train_items[split.train_users == u]
        rows.append(rng.permutation(np.setdiff1d(np.arange(split.n_items), seen))[:length])
    return torch.from_numpy(np.stack(rows))


def batch_of(student, users):
    return Batch(users, users, users, student, RowGradients([student.user_emb, student.item_emb]))


def test_position_weights_are_normalised_exponentials():
    w = position_weights(4, 2.0)
    raw = [math.exp(-r / 2.0) for r in range(1, 5)]
    assert torch.allclose(w, torch.tensor([x / sum(raw) for x in raw]))


def test_rank_estimate_and_discrepancy_weights_against_a_loop():
    torch.manual_seed(0)
    top, sampled, n_items, mu = torch.randn(5, 3), torch.randn(5, 40), 1000, 0.1
    got = discrepancy_weights(top, sampled, n_items, mu)
    for u in range(5):
        for r in range(3):
            above = sum(1 for s in sampled[u].tolist() if s > top[u, r].item())
            rank = above * (n_items - 1) / 40
            assert got[u, r].item() == pytest.approx(max(0.0, math.tanh(mu * (rank - (r + 1)))), abs=1e-6)


def test_rd_loss_values_and_gradients_against_a_loop():
    scores = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(4, 3, dtype=torch.float64)
    rd_loss(scores, weights).backward()
    expected, grad = 0.0, torch.zeros(4, 3, dtype=torch.float64)
    for u in range(4):
        for r in range(3):
            s, w = scores[u, r].item(), weights[u, r].item()
            expected += -w * math.log(1 / (1 + math.exp(-s)))
            grad[u, r] = -w * (1 - 1 / (1 + math.exp(-s)))          # d/ds of -w log sigmoid(s)
    assert rd_loss(scores, weights).item() == pytest.approx(expected)
    assert torch.allclose(scores.grad, grad)


@pytest.mark.parametrize("dynamic", [False, True])
def test_rd_method_loss_and_gradients_match_plain_autograd(dynamic):
    split = tiny_split()
    lists = unobserved_lists(split, 8)
    student = BPR(split.n_users, split.n_items, 5)
    rd = RD(lists, split, torch.Generator().manual_seed(0), lmbda=0.7, K=3, mu=0.5, n_samples=50, dynamic_start=0)
    rd.start_epoch(0 if dynamic else -1)
    users = torch.tensor([1, 3, 3, 4])
    batch = batch_of(student, users)
    loss = rd.loss(batch)["RD"]
    loss.backward()
    batch.grads.accumulate()
    ref = BPR(split.n_users, split.n_items, 5)
    ref.load_state_dict(student.state_dict())
    unique = torch.tensor([1, 3, 4])
    scores = (ref.user_emb[unique].unsqueeze(1) * ref.item_emb[lists[unique, :3]]).sum(2)
    weights = position_weights(3, 1.0).expand(3, 3)
    if dynamic:      # rebuild the same draws: the sampler's generator replayed
        from Utils.tensors.sampling import PairSet, sample_negatives, torch_draw
        train = PairSet(torch.from_numpy(split.train_users), torch.from_numpy(split.train_items), split.n_items)
        sampled = sample_negatives(unique.repeat_interleave(50), split.n_items, train,
                                   torch_draw(torch.Generator().manual_seed(0))).view(3, 50)
        assert not train.contains(unique.repeat_interleave(50), sampled.reshape(-1)).any()
        sampled_scores = (ref.user_emb[unique].unsqueeze(1) * ref.item_emb[sampled]).sum(2).detach()
        weights = weights * discrepancy_weights(scores.detach(), sampled_scores, split.n_items, 0.5)
    expected = 0.7 * -(weights * torch.nn.functional.logsigmoid(scores)).sum()
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.allclose(student.user_emb.grad, ref.user_emb.grad, atol=1e-7)
    assert torch.allclose(student.item_emb.grad, ref.item_emb.grad, atol=1e-7)


def test_cd_loss_against_the_formula():
    s, t = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    expected = 0.0
    for b in range(3):
        for j in range(2):
            y, p = 1 / (1 + math.exp(-t[b, j].item() / 2)), 1 / (1 + math.exp(-s[b, j].item()))
            expected += -(y * math.log(p) + (1 - y) * math.log(1 - p))
    assert cd_loss(s, t, 2.0).item() == pytest.approx(expected)


@pytest.mark.parametrize("guide", ["teacher", "student"])
def test_cd_draws_from_the_guide_list_by_rank(guide):
    split = tiny_split(n_users=4, n_items=40)
    length, n_d, T = 6, 2, 0.5                 # p(r) ~ exp(-r / (N T)) = exp(-r / 3)
    lists = unobserved_lists(split, length)
    teacher = BPR(split.n_users, split.n_items, 4)
    student = BPR(split.n_users, split.n_items, 4)
    cd = CD(teacher, lists, split, torch.Generator().manual_seed(0), n_d=n_d, T=T, guide=guide)
    guide_lists = lists
    if guide == "student":
        from Utils.tensors.csr import build_csr
        from Utils.tensors.top_unobserved import top_unobserved
        ptr, cols = build_csr(split.train_users, split.train_items, split.n_users, torch.device("cpu"))
        guide_lists = top_unobserved(student.user_emb.detach(), student.item_emb.detach(), ptr, cols, length)
    counts = np.zeros(length)
    rounds = 3000
    for _ in range(rounds):
        drawn = cd._draw(student)                                            # [n_users, n_d]
        position = (drawn.unsqueeze(2) == guide_lists.unsqueeze(1)).int().argmax(2)
        assert ((drawn.unsqueeze(2) == guide_lists.unsqueeze(1)).sum(2) == 1).all()   # always from the list
        assert (position[:, 0] != position[:, 1]).all()                              # without replacement
        counts += np.bincount(position.reshape(-1).numpy(), minlength=length)
    weights = np.exp(-np.arange(1, length + 1) / (length * T))
    from test_sampling import exact_inclusion
    assert np.allclose(counts / (rounds * split.n_users), exact_inclusion(weights, n_d), atol=0.02)


def test_cd_method_gives_teacher_no_gradient_and_matches_autograd():
    split = tiny_split()
    lists = unobserved_lists(split, 8)
    teacher, student = BPR(split.n_users, split.n_items, 6), BPR(split.n_users, split.n_items, 6)
    teacher.requires_grad_(False)
    cd = CD(teacher, lists, split, torch.Generator().manual_seed(3), lmbda=0.5, n_d=3, T=1.0)
    cd.start_epoch(0)
    users = torch.tensor([0, 0, 2, 5])
    batch = batch_of(student, users)
    loss = cd.loss(batch)["CD"]
    loss.backward()
    batch.grads.accumulate()
    unique, items = torch.tensor([0, 2, 5]), cd.drawn[torch.tensor([0, 2, 5])]
    ref = BPR(split.n_users, split.n_items, 6)
    ref.load_state_dict(student.state_dict())
    s = (ref.user_emb[unique].unsqueeze(1) * ref.item_emb[items]).sum(2)
    t = (teacher.user_emb[unique].unsqueeze(1) * teacher.item_emb[items]).sum(2)
    expected = 0.5 * cd_loss(s, t, 2.0)
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.allclose(student.item_emb.grad, ref.item_emb.grad, atol=1e-7)
    assert teacher.user_emb.grad is None and teacher.item_emb.grad is None
