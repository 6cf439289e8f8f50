"""RCE-KD's weights, sampler and loss against a transcription of the official release and exact probabilities."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from Models.RCEKD import (collaborative_weights, draw_without_replacement, rcekd_loss, rowwise_isin,
                          soft_cross_entropy)


def release_weights(student_top, teacher_top, T):
    """``do_something_in_each_epoch`` of the release's RCEKD (modeling/KD/playground.py), its weight matrix."""
    n, mxK = student_top.shape
    weight = torch.zeros(n, mxK)
    idx = (student_top.unsqueeze(1) == teacher_top.unsqueeze(2)).nonzero()[:, [0, 2]]
    weight[idx[:, 0], idx[:, 1]] += 1
    weight = torch.minimum(torch.cumsum(weight.flip(-1), dim=-1).flip(-1), torch.tensor(50.))
    return torch.exp((weight + 1) / T)


def release_loss(logit_S_itemS, logit_S_itemT, logit_S_interesting, logit_T_itemS, logit_T_itemT,
                 logit_T_interesting, itemT, itemS, interesting, beta):
    """``get_loss`` of the release's RCEKD, line by line (logits already divided by tau)."""
    def isin(a, b):
        return torch.sum(a.unsqueeze(2) == b.unsqueeze(1), dim=2, dtype=torch.bool)
    prob_T_itemS = torch.exp(logit_T_itemS) / torch.exp(logit_T_itemS).sum(-1, keepdim=True)
    loss_itemS = F.cross_entropy(logit_S_itemS, prob_T_itemS, reduction="none")
    exp_T_interesting, exp_T_itemT = torch.exp(logit_T_interesting), torch.exp(logit_T_itemT)
    mask, mask2 = isin(itemT, interesting), isin(itemT, itemS)
    exp_T_itemT[mask] = 0
    exp_T_itemT[mask2] = 0
    Z_T = exp_T_interesting.sum(-1, keepdim=True) + exp_T_itemT.sum(-1, keepdim=True)
    prob_T_all = torch.cat([exp_T_interesting, exp_T_itemT], dim=-1) / Z_T
    exp_S_itemT = torch.exp(logit_S_itemT) * (1. - mask.float()) * (1. - mask2.float())
    Z_S = torch.exp(logit_S_interesting).sum(-1, keepdim=True) + exp_S_itemT.sum(-1, keepdim=True)
    logit_S_all = torch.cat([logit_S_interesting, logit_S_itemT], dim=-1)
    loss_itemT = -(prob_T_all * (logit_S_all - torch.log(Z_S))).sum(-1)
    weight = torch.exp(-beta * mask.float().mean(-1))
    return ((1 - weight) * loss_itemS + weight * loss_itemT).sum()


def test_rowwise_isin_and_weights_equal_the_release():
    g = torch.Generator().manual_seed(0)
    student_top = torch.stack([torch.randperm(40, generator=g)[:12] for _ in range(6)])
    teacher_top = torch.stack([torch.randperm(40, generator=g)[:5] for _ in range(6)])
    expected = torch.tensor([[int(x) in set(teacher_top[r].tolist()) for x in student_top[r]] for r in range(6)])
    assert torch.equal(rowwise_isin(student_top, teacher_top), expected)
    assert torch.allclose(collaborative_weights(student_top, teacher_top, 10.0),
                          release_weights(student_top, teacher_top, 10.0))


def test_loss_and_gradients_equal_the_release():
    g = torch.Generator().manual_seed(1)
    n, K, L, n_items = 5, 4, 3, 30
    itemS = torch.stack([torch.randperm(n_items, generator=g)[:K] for _ in range(n)])
    interesting = torch.cat([itemS[:, :1], torch.stack([torch.randperm(n_items, generator=g)[:L - 1] + 0
                                                        for _ in range(n)])], 1)
    interesting[:, 1:] = torch.where(interesting[:, 1:] == interesting[:, :1], (interesting[:, 1:] + 1) % n_items,
                                     interesting[:, 1:])
    itemT = torch.cat([itemS[:, 1:3], interesting[:, 2:3], torch.randint(0, n_items, (n, 1), generator=g)], 1)
    student = torch.randn(n, n_items, generator=g).requires_grad_()
    teacher = torch.randn(n, n_items, generator=g) * 3
    pick = lambda table, items: torch.gather(table, 1, items)                       # noqa: E731
    expected = release_loss(pick(student, itemS), pick(student, itemT), pick(student, interesting),
                            pick(teacher, itemS), pick(teacher, itemT), pick(teacher, interesting), itemT, itemS,
                            interesting, 3.0)
    grad_expected, = torch.autograd.grad(expected, student)
    keep_T = ~rowwise_isin(itemT, interesting) & ~rowwise_isin(itemT, itemS)
    subset = torch.cat([interesting, itemT], 1)
    keep = torch.cat([torch.ones_like(interesting, dtype=torch.bool), keep_T], 1)
    overlap = rowwise_isin(itemT, interesting).float().mean(1)
    got = rcekd_loss(pick(teacher, itemS), pick(student, itemS), pick(teacher, subset), pick(student, subset), keep,
                     overlap, 3.0)
    grad_got, = torch.autograd.grad(got, student)
    assert float(got.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    assert torch.allclose(grad_got, grad_expected, atol=1e-6)
    assert overlap.min() >= 0.25                                 # every row shares one teacher item with its sample


def test_soft_cross_entropy_ignores_dropped_entries():
    t, s = torch.tensor([[1.0, 2.0, 5.0]]), torch.tensor([[0.5, -1.0, 9.0]])
    keep = torch.tensor([[True, True, False]])
    p = torch.softmax(t[:, :2], 1)
    assert float(soft_cross_entropy(t, s, keep)) == pytest.approx(float(-(p * torch.log_softmax(s[:, :2], 1)).sum()))


def test_draws_follow_successive_sampling_without_replacement():
    """P(ordered draw (i, j)) = w_i / W * w_j / (W - w_i), the law of torch.multinomial without replacement;
    frequencies of the unordered pairs over 100,000 rows within 5 standard errors."""
    w = torch.tensor([4.0, 2.0, 1.0, 1.0])
    picks = draw_without_replacement(w.expand(100000, -1).contiguous(), 2, torch.Generator().manual_seed(0))
    assert (picks[:, 0] != picks[:, 1]).all()
    total = float(w.sum())
    for i, j in itertools.combinations(range(4), 2):
        p = w[i] / total * w[j] / (total - w[i]) + w[j] / total * w[i] / (total - w[j])
        p = float(p)
        freq = float(((picks.min(1).values == i) & (picks.max(1).values == j)).float().mean())
        assert abs(freq - p) <= 5 * math.sqrt(p * (1 - p) / 100000), (i, j)
