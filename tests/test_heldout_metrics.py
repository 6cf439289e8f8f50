"""Full-ranking ranks and metrics over held-out sets against a brute-force reading of their definitions."""
import math

import numpy as np
import pytest
import torch

from Utils.tensors.csr import build_csr
from Utils.tensors.heldout_metrics import heldout_metrics, heldout_ranks, heldout_ranks_of_sets


def brute_ranking(scores, u, targets, masked):
    """User u's ranking of its unmasked items: score descending (nan the worst), then held-out items last,
    then item id."""
    def key(i):
        s = scores[u, i]
        return (-(s if not math.isnan(s) else -math.inf), i in targets, i)
    return sorted((i for i in range(scores.shape[1]) if i not in masked.get(u, set())), key=key)


def brute_force(scores, heldout, masked, cutoffs):
    """The metrics, from each user's brute-force ranking."""
    totals, users = {}, 0
    for u, targets in heldout.items():
        if not targets:
            continue
        users += 1
        ranking = brute_ranking(scores, u, targets, masked)
        for k in cutoffs:
            hits = [r for r, i in enumerate(ranking[:k], 1) if i in targets]
            dcg = sum(1 / math.log2(r + 1) for r in hits)
            idcg = sum(1 / math.log2(r + 1) for r in range(1, min(len(targets), k) + 1))
            for name, value in (("R", len(hits) / len(targets)), ("N", dcg / idcg), ("H", float(bool(hits)))):
                totals[f"{name}@{k}"] = totals.get(f"{name}@{k}", 0.0) + value
    return {name: total / users for name, total in totals.items()}, users


def brute_ranks(scores, heldout, masked, k):
    """Every held-out pair's rank in CSR order (users ascending, items ascending), k + 1 beyond k."""
    out = []
    for u in sorted(heldout):
        ranking = brute_ranking(scores, u, heldout[u], masked)
        out += [min(ranking.index(i) + 1, k + 1) for i in sorted(heldout[u])]
    return out


def csr(sets, n_users):
    rows = np.array([u for u in sorted(sets) for _ in sets[u]], dtype=np.int64)
    cols = np.array([i for u in sorted(sets) for i in sorted(sets[u])], dtype=np.int64)
    return build_csr(rows, cols, n_users, "cpu")


HAND = torch.tensor([[0.9, 0.5, 0.5, 0.5, 0.1, 0.0],      # ties at 0.5: item 1 (not held out) before 2
                     [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],      # all tied: held-out item 5 behind 2, 3, 4
                     [0.3, 0.8, 0.1, 0.9, 0.2, 0.4],
                     [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],      # no held-out items: not averaged
                     [0.7, float("nan"), 0.7, 0.7, 0.2, 0.7]])   # nan is the worst; a tie at the k-th value
HAND_HELDOUT = {0: {2, 4}, 1: {5}, 2: {0, 1, 2, 4, 5}, 3: set(), 4: {1, 3, 5}}
HAND_MASKED = {0: {0}, 1: {0, 1}, 2: {3}, 4: {0}}


@pytest.mark.parametrize("chunk", [1, 2, 100])
def test_hand_made_cases_with_ties_masks_and_several_held_out_items(chunk):
    got = heldout_metrics(lambda users: HAND[users], 5, 6, csr(HAND_HELDOUT, 5), csr(HAND_MASKED, 5),
                          cutoffs=(1, 2, 3), chunk=chunk)
    expected, users = brute_force(HAND.numpy(), HAND_HELDOUT, HAND_MASKED, (1, 2, 3))
    assert got["users"] == users == 4
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name
    # written out: user 0 ranks 1, 3, 2, 4, 5 (1 and 3 ahead of the tied held-out 2): hits at 3 and 4;
    # user 1 ranks 2, 3, 4, 5: its item at 4; user 2 ranks 1, 5, 0, 4, 2: hits at 1 to 5;
    # user 4 ranks 2, 3, 5, 4, 1 (3 and 5 held out, tied with 2 and behind it; nan last): hits at 2, 3, 5
    assert expected["R@2"] == pytest.approx((0 + 0 + 2 / 5 + 1 / 3) / 4)
    assert expected["H@3"] == pytest.approx(3 / 4)
    ranks, nonfinite = heldout_ranks(lambda users: HAND[users], 6, csr(HAND_HELDOUT, 5), csr(HAND_MASKED, 5), 3,
                                     chunk=chunk)
    assert ranks.tolist() == [3, 4, 4, 3, 1, 4, 4, 2, 4, 2, 3] and nonfinite == 1
    assert ranks.tolist() == brute_ranks(HAND.numpy(), HAND_HELDOUT, HAND_MASKED, 3)


@pytest.mark.parametrize("levels, k", [(6, 5), (3, 10), (1000, 4)])
def test_random_cases_against_brute_force(levels, k):
    g = torch.Generator().manual_seed(levels)
    n_users, n_items = 30, 40
    scores = torch.randint(0, levels, (n_users, n_items), generator=g).double()     # few levels: many ties
    rng = np.random.default_rng(levels)
    heldout, masked = {}, {}
    for u in range(n_users):
        items = rng.permutation(n_items)
        heldout[u] = set(items[:rng.integers(0, 8)].tolist())
        masked[u] = set(items[10:10 + rng.integers(0, 20)].tolist())
    cutoffs = (k, 2 * k)
    got = heldout_metrics(lambda users: scores[users], n_users, n_items, csr(heldout, n_users), csr(masked, n_users),
                          cutoffs=cutoffs, chunk=7)
    expected, users = brute_force(scores.numpy(), heldout, masked, cutoffs)
    assert got["users"] == users
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name
    ranks, _ = heldout_ranks(lambda users: scores[users], n_items, csr(heldout, n_users), csr(masked, n_users), 2 * k)
    assert ranks.tolist() == brute_ranks(scores.numpy(), heldout, masked, 2 * k)


def test_a_constant_scorer_scores_zero():
    scores = torch.zeros(3, 50)
    heldout = {0: {0, 1}, 1: {7}, 2: {2, 3, 4}}
    got = heldout_metrics(lambda users: scores[users], 3, 50, csr(heldout, 3), csr({0: {5}}, 3), cutoffs=(10, 20))
    assert all(got[f"{m}@{k}"] == 0.0 for m in "RNH" for k in (10, 20))


def test_an_item_both_held_out_and_masked_is_refused():
    scores = torch.zeros(1, 3)
    with pytest.raises(ValueError, match="both held out and masked"):
        heldout_metrics(lambda users: scores[users], 1, 3, csr({0: {1}}, 1), csr({0: {1}}, 1), cutoffs=(1,))


def test_two_sets_at_once_equal_each_alone():
    """The evaluator ranks valid and test from one score block per chunk: the same ranks as one set at a time."""
    g = torch.Generator().manual_seed(3)
    scores = torch.randint(0, 5, (20, 30), generator=g).float()
    rng = np.random.default_rng(3)
    sets = []
    for _ in range(2):
        held, masked = {}, {}
        for u in range(20):
            items = rng.permutation(30)
            held[u] = set(items[:rng.integers(0, 4)].tolist())
            masked[u] = set(items[5:5 + rng.integers(0, 10)].tolist())
        sets.append((csr(held, 20), csr(masked, 20)))
    together, _ = heldout_ranks_of_sets(lambda users: scores[users], 30, sets, 6, chunk=4)
    for (held, masked), ranks in zip(sets, together):
        alone, _ = heldout_ranks(lambda users: scores[users], 30, held, masked, 6, chunk=7)
        assert ranks.tolist() == alone.tolist()


def test_sets_with_one_mask_share_one_topk_and_equal_each_alone(monkeypatch):
    """kds masks only the training pairs for valid and test alike: one masked block and one topk per chunk
    serve both sets (the masks are equal, not the same tensors, as the evaluator builds them), with the ranks
    of each set ranked alone and of the brute-force ranking, ties included (integer scores)."""
    g = torch.Generator().manual_seed(5)
    scores = torch.randint(0, 4, (20, 30), generator=g).float()
    rng = np.random.default_rng(5)
    valid, test, masked = {}, {}, {}
    for u in range(20):
        items = rng.permutation(30)
        valid[u] = set(items[:rng.integers(0, 3)].tolist())
        test[u] = set(items[3:3 + rng.integers(0, 3)].tolist())
        masked[u] = set(items[6:6 + rng.integers(0, 10)].tolist())
    sets = [(csr(valid, 20), csr(masked, 20)), (csr(test, 20), csr(masked, 20))]
    calls, real_topk = [], torch.topk
    monkeypatch.setattr(torch, "topk", lambda *a, **kw: calls.append(1) or real_topk(*a, **kw))
    together, _ = heldout_ranks_of_sets(lambda users: scores[users], 30, sets, 6, chunk=4)
    monkeypatch.setattr(torch, "topk", real_topk)
    users_with_pairs = sum(1 for u in range(20) if valid[u] or test[u])
    assert len(calls) == math.ceil(users_with_pairs / 4)     # one topk a chunk, not one a set
    for held, (held_csr, mask_csr), ranks in zip((valid, test), sets, together):
        alone, _ = heldout_ranks(lambda users: scores[users], 30, held_csr, mask_csr, 6, chunk=7)
        assert ranks.tolist() == alone.tolist() == brute_ranks(scores.numpy(), held, masked, 6)
