"""Full-ranking metrics over held-out sets against a brute-force reading of their definitions."""
import math

import numpy as np
import pytest
import torch

from Utils.tensors.csr import build_csr
from Utils.tensors.heldout_metrics import heldout_metrics


def brute_force(scores, heldout, masked, cutoffs):
    """Each user: rank the unmasked items by (-score, id), then the definitions written out."""
    totals, users = {}, 0
    for u, targets in heldout.items():
        if not targets:
            continue
        users += 1
        ranking = sorted((i for i in range(scores.shape[1]) if i not in masked.get(u, set())),
                         key=lambda i: (-scores[u, i], i))
        for k in cutoffs:
            top = ranking[:k]
            hits = [r for r, i in enumerate(top, 1) if i in targets]
            dcg = sum(1 / math.log2(r + 1) for r in hits)
            idcg = sum(1 / math.log2(r + 1) for r in range(1, min(len(targets), k) + 1))
            for name, value in (("R", len(hits) / len(targets)), ("N", dcg / idcg), ("H", float(bool(hits)))):
                totals[f"{name}@{k}"] = totals.get(f"{name}@{k}", 0.0) + value
    return {name: total / users for name, total in totals.items()}, users


def csr(sets, n_users):
    rows = np.array([u for u, s in sets.items() for _ in s], dtype=np.int64)
    cols = np.array([i for u, s in sets.items() for i in sorted(s)], dtype=np.int64)
    return build_csr(rows, cols, n_users, "cpu")


@pytest.mark.parametrize("chunk", [1, 2, 100])
def test_hand_made_cases_with_ties_masks_and_several_held_out_items(chunk):
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.5, 0.1, 0.0],      # ties at 0.5: items 1, 2, 3 in id order
                           [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],      # all tied: ranking is 0, 1, 2, ...
                           [0.3, 0.8, 0.1, 0.9, 0.2, 0.4],
                           [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])     # no held-out items: not averaged
    heldout = {0: {2, 4}, 1: {5}, 2: {0, 1, 2, 4, 5}, 3: set()}
    masked = {0: {0}, 1: {0, 1}, 2: {3}}
    got = heldout_metrics(lambda users: scores[users], 4, 6, csr(heldout, 4), csr(masked, 4), cutoffs=(1, 2, 3),
                          chunk=chunk)
    expected, users = brute_force(scores.numpy(), heldout, masked, (1, 2, 3))
    assert got["users"] == users == 3
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name
    # user 0 after masking item 0: ranking 1, 2, 3, 4, 5; held out {2, 4}: one hit in the top 2 at rank 2
    assert expected["R@2"] == pytest.approx((0.5 + 0.0 + 0.4) / 3)


def test_random_cases_against_brute_force():
    g = torch.Generator().manual_seed(0)
    n_users, n_items = 30, 40
    scores = torch.randint(0, 6, (n_users, n_items), generator=g).double()     # many ties
    rng = np.random.default_rng(0)
    heldout, masked = {}, {}
    for u in range(n_users):
        items = rng.permutation(n_items)
        heldout[u] = set(items[:rng.integers(0, 8)].tolist())
        masked[u] = set(items[10:10 + rng.integers(0, 20)].tolist())
    got = heldout_metrics(lambda users: scores[users], n_users, n_items, csr(heldout, n_users), csr(masked, n_users),
                          cutoffs=(5, 10), chunk=7)
    expected, users = brute_force(scores.numpy(), heldout, masked, (5, 10))
    assert got["users"] == users
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_an_item_both_held_out_and_masked_is_refused():
    scores = torch.zeros(1, 3)
    with pytest.raises(ValueError, match="both held out and masked"):
        heldout_metrics(lambda users: scores[users], 1, 3, csr({0: {1}}, 1), csr({0: {1}}, 1), cutoffs=(1,))
