"""UnKD's groups, shares, lists, pair sampler and loss against transcriptions of the release and loops."""
import math

import numpy as np
import pytest
import torch

from Models.BPR import BPR
from Models.UnKD import UnKD, draw_position_pairs, pairs_per_group, popularity_groups, unkd_loss
from Utils.data.dataset import SplitData


def release_split_group(train_items, group_num):
    """The release's ``splitGroup`` (UnKD/dataloader.py), dict by dict: -> (item_group lists, cate_ratio)."""
    item_count = {}
    for k in train_items:
        item_count[k] = item_count.get(k, 0) + 1
    count = sorted(item_count.items(), key=lambda x: x[1], reverse=True)
    group_aver = len(train_items) / group_num
    item_group, temp_group, temp_count = [], [], 0
    for i, j in count:
        temp_group.append(i)
        temp_count += j
        if temp_count > group_aver:
            if len(temp_group) == 1:
                item_group.append(temp_group)
                temp_group, temp_count = [], 0
                continue
            temp_group.remove(i)
            item_group.append(temp_group)
            temp_group, temp_count = [i], j
    if len(temp_group) > 0:
        if temp_count > group_aver / 2:
            item_group.append(temp_group)
        elif len(item_group) > 0:
            item_group[-1].extend(temp_group)
        else:
            item_group.append(temp_group)
    cate_ratio = [sum(item_count[i] for i in g) / len(g) for g in item_group]
    top, bottom = max(cate_ratio), min(cate_ratio)
    flipped = [top + bottom - r for r in cate_ratio]
    cate_ratio = [max(round(f / sum(flipped), 2), 0.1) for f in flipped]
    return item_group, cate_ratio


def release_pairs(cate_ratio, n_distill, lamda):
    """The release's per-group pair counts (UnKD/sample.py: get_rank_negItems, KD_sampling)."""
    ratio = [math.pow(r, lamda) for r in cate_ratio]
    ratio = [r / sum(ratio) for r in ratio]
    all_n = sum(round(r * n_distill) for r in ratio)
    out = []
    for i, r in enumerate(ratio):
        dis_n = round(r * n_distill)
        if all_n < n_distill and i < n_distill - all_n:
            dis_n += 1
        out.append(dis_n)
    return out


@pytest.mark.parametrize("seed, groups", [(0, 2), (1, 3), (2, 4), (3, 5)])
def test_groups_and_pair_counts_equal_the_release(seed, groups):
    rng = np.random.default_rng(seed)
    n_items = 50
    popularity = rng.zipf(1.6, n_items).clip(max=40)          # skewed, with many ties
    train_items = rng.permutation(np.repeat(np.arange(n_items), popularity))
    group_of, counts = popularity_groups(train_items, n_items + 3, groups)   # 3 items never trained on
    expected, cate_ratio = release_split_group(train_items.tolist(), groups)
    assert [sorted(np.nonzero(group_of == g)[0].tolist()) for g in range(group_of.max() + 1)] == \
        [sorted(g) for g in expected]
    assert (group_of[n_items:] == -1).all()
    for lamda, n in ((0.0, 30), (0.5, 30), (1.0, 7), (2.0, 2)):
        assert pairs_per_group(group_of, counts, n, lamda) == release_pairs(cate_ratio, n, lamda)


def test_pairs_follow_their_exact_distribution():
    """Each pair (a < b) has probability 2 w_a w_b / ((SUM w)^2 - SUM w^2): the release's draw with
    replacement and redraw of ties. Frequencies over 200,000 pairs within 5 standard errors."""
    w = torch.exp(-(torch.arange(5) + 1).float() / 2.0)
    w[4] = 0.0                                                   # a position past the list's end
    generator = torch.Generator().manual_seed(0)
    a, b = draw_position_pairs(w.expand(20000, -1).contiguous(), 10, generator)
    assert (a < b).all() and b.max() <= 3
    counts = torch.zeros(5, 5)
    counts.index_put_((a.reshape(-1), b.reshape(-1)), torch.ones(a.numel()), accumulate=True)
    z = w.sum() ** 2 - (w ** 2).sum()
    n = a.numel()
    for i in range(5):
        for j in range(i + 1, 5):
            p = float(2 * w[i] * w[j] / z)
            assert abs(counts[i, j] / n - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12, (i, j)


def test_loss_and_gradients_equal_a_loop():
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(4, 3, generator=g).requires_grad_()
    neg = torch.randn(4, 3, generator=g).requires_grad_()
    valid = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 0, 0], [1, 1, 1]], dtype=torch.bool)
    got = unkd_loss(pos, neg, valid)
    p, q = pos.detach(), neg.detach()
    expected = 0.0
    for r in range(4):
        terms = [-math.log(1 / (1 + math.exp(-(float(p[r, c]) - float(q[r, c]))))) for c in range(3)
                 if valid[r, c]]
        expected += sum(terms) / len(terms) if terms else 0.0
    assert float(got.detach()) == pytest.approx(expected, rel=1e-6)
    got.backward()
    for r in range(4):
        k = int(valid[r].sum())
        for c in range(3):
            x = float(p[r, c] - q[r, c])
            grad = -(1 - 1 / (1 + math.exp(-x))) / k if valid[r, c] else 0.0
            assert float(pos.grad[r, c]) == pytest.approx(grad, abs=1e-6)
            assert float(neg.grad[r, c]) == pytest.approx(-grad, abs=1e-6)


def test_lists_are_each_users_unobserved_group_items_in_teacher_order():
    rng = np.random.default_rng(1)
    n_users, n_items = 12, 30
    users = np.repeat(np.arange(n_users), 8)
    items = np.concatenate([rng.choice(25, 8, replace=False) for _ in range(n_users)])   # items 25..29 untrained
    users[-8:], items[-8:] = n_users - 1, np.arange(8)      # a user holding most of a popular group
    split = SplitData("toy", n_users, n_items, users, items, np.full(n_users, -1), np.full(n_users, -1), "hand")
    torch.manual_seed(0)
    teacher = BPR(n_users, n_items, 6).requires_grad_(False)
    method = UnKD(teacher, split, torch.Generator().manual_seed(2), n_groups=2, n_pairs=6, list_len=7)
    group_of, _ = popularity_groups(split.train_items, n_items, 2)
    scores = teacher.score(torch.arange(n_users), torch.arange(n_items).expand(n_users, -1))
    for g in range(method.n_groups):
        for u in range(n_users):
            mine = set(items[users == u].tolist())
            unobserved = [i for i in range(n_items) if group_of[i] == g and i not in mine]
            ranked = sorted(unobserved, key=lambda i: -float(scores[u, i]))[:7]
            assert int(method.lengths[g][u]) == len(ranked)
            assert method.lists[g][u, :len(ranked)].tolist() == ranked
    method.start_epoch(0)
    assert method.pos.shape == (n_users, sum(method.sizes))
    start = 0
    for g, k in enumerate(method.sizes):       # each pair from one group's list, the positive ranked higher
        for u in range(n_users):
            order = method.lists[g][u].tolist()
            for c in range(start, start + k):
                if method.valid[u, c]:
                    assert order.index(int(method.pos[u, c])) < order.index(int(method.neg[u, c])) < \
                        int(method.lengths[g][u])
        start += k
