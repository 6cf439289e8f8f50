import itertools

import numpy as np
import torch

from Models.RRD import RankingSampler, sample_positions
from Utils.tensors.sampling import PairSet, sample_distinct_excluding, sample_negatives, torch_draw


def random_pairs(n_rows, n_cols, per_row, seed=0):
    g = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_rows), per_row)
    cols = np.concatenate([g.choice(n_cols, per_row, replace=False) for _ in range(n_rows)])
    return torch.from_numpy(rows), torch.from_numpy(cols)


def test_pair_set_membership():
    s = PairSet(torch.tensor([0, 0, 2]), torch.tensor([1, 3, 0]), 4)
    got = s.contains(torch.tensor([0, 0, 1, 2, 2]), torch.tensor([1, 2, 1, 0, 3]))
    assert got.tolist() == [True, False, False, True, False]


def test_negatives_never_in_train():
    rows, cols = random_pairs(50, 30, 25)          # dense: 25 of 30 items observed per user
    train = PairSet(rows, cols, 30)
    g = torch.Generator().manual_seed(0)
    neg = sample_negatives(rows.repeat(20), 30, train, torch_draw(g))
    assert not train.contains(rows.repeat(20), neg).any()
    assert set(neg.tolist()) <= set(range(30))


def test_distinct_excluding_returns_distinct_allowed_columns():
    rows, cols = random_pairs(40, 60, 35, seed=1)
    excluded = PairSet(rows, cols, 60)
    g = torch.Generator().manual_seed(0)
    picked = sample_distinct_excluding(torch.arange(40), 20, 60, excluded, torch_draw(g))
    assert picked.shape == (40, 20)
    assert all(len(set(r)) == 20 for r in picked.tolist())
    assert not excluded.contains(torch.arange(40).unsqueeze(1), picked).any()
    # uses every allowed column when asked for all of them
    all_allowed = sample_distinct_excluding(torch.arange(40), 25, 60, excluded, torch_draw(g))
    for r in range(40):
        assert set(all_allowed[r].tolist()) == set(range(60)) - set(cols[rows == r].tolist())


def test_interesting_and_uninteresting_items():
    n_users, n_items, length = 30, 200, 50
    rows, cols = random_pairs(n_users, n_items, 20, seed=2)
    g = np.random.default_rng(3)
    lists = torch.from_numpy(np.stack([g.choice(np.setdiff1d(np.arange(n_items), cols[rows == u].numpy()),
                                                length, replace=False) for u in range(n_users)]))
    sampler = RankingSampler(lists, rows, cols, n_items, K=10, L=15, T=10.0,
                             generator=torch.Generator().manual_seed(0))
    sampler.resample()
    train = PairSet(rows, cols, n_items)
    for u in range(n_users):
        inter = sampler.interesting[u].tolist()
        positions = [lists[u].tolist().index(i) for i in inter]
        assert len(set(inter)) == 10 and positions == sorted(positions)      # distinct, teacher order
        unint = sampler.uninteresting[u].tolist()
        assert len(set(unint)) == 15 and not set(unint) & set(lists[u].tolist())
    assert not train.contains(torch.arange(n_users).unsqueeze(1), sampler.uninteresting).any()


def exact_inclusion(weights, k):
    """P(position p is among k draws without replacement, prob. proportional to weights): enumeration."""
    n = len(weights)
    prob = np.zeros(n)
    for order in itertools.permutations(range(n), k):
        p, left = 1.0, weights.sum()
        for i in order:
            p *= weights[i] / left
            left -= weights[i]
        prob[list(order)] += p
    return prob


def test_position_frequencies_match_sampling_without_replacement():
    length, k, T = 7, 3, 2.0
    weights = np.exp(-np.arange(1, length + 1) / T)
    draws = sample_positions(200_000, k, length, T, torch.Generator().manual_seed(0))
    assert (draws[:, 1:] > draws[:, :-1]).all()
    freq = torch.bincount(draws.reshape(-1), minlength=length).numpy() / 200_000
    assert np.allclose(freq, exact_inclusion(weights, k), atol=4e-3)
