import math

import numpy as np
import pytest
import torch

from Models.BPR import BPR
from Utils.data.dataset import SplitData
from Utils.training.evaluation import Evaluator, SampledScorer, metrics_from_ranks


def test_metrics_on_hand_made_ranks():
    ranks = torch.tensor([1, 3, 7, 15, 30, 0])      # the 0 is a user without a target: ignored
    m = metrics_from_ranks(ranks)
    assert m["H@5"] == pytest.approx(2 / 5)
    assert m["H@10"] == pytest.approx(3 / 5)
    assert m["H@20"] == pytest.approx(4 / 5)
    assert m["N@5"] == pytest.approx((1 + 1 / math.log2(4)) / 5)
    assert m["N@20"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 5)
    assert m["M@5"] == pytest.approx((1 + 1 / 3) / 5)
    assert m["M@10"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 5)


class Fixed(BPR):
    """A BPR model with given embeddings."""

    def __init__(self, users, items):
        super().__init__(len(users), len(items), users.shape[1])
        self.user_emb, self.item_emb = torch.nn.Parameter(users), torch.nn.Parameter(items)


def tiny_split():
    # 3 users, 8 items; user 0 trains on 0,1 ; valid 2 ; test 3 ...
    return SplitData("t", 3, 8, np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 4, 5, 6, 7]),
                     valid_item=np.array([2, 6, 0]), test_item=np.array([3, 7, 1]), source="hand")


def test_constant_scorer_is_never_perfect():
    split = tiny_split()
    cands = np.array([[4, 5, 6], [0, 1, 2], [2, 3, 4]])
    model = Fixed(torch.ones(3, 2), torch.ones(8, 2))
    metrics, ranks = Evaluator(split, cands, torch.device("cpu"), mode="both").evaluate(model)
    assert ranks["test"].tolist() == [4, 4, 4]       # tied with all 3 candidates: placed behind them
    assert ranks["test_full"].tolist() == [5, 5, 5]   # 8 items - 2 train - 2 held out = 4 competitors
    assert metrics["test"]["H@5"] == 1.0 and metrics["test"]["M@5"] == pytest.approx(1 / 4)


def test_sampled_and_full_ranks_by_hand():
    split = tiny_split()
    cands = np.array([[4, 5, 6], [0, 1, 2], [2, 3, 4]])
    item_scores = torch.tensor([8., 7., 6., 5., 4., 3., 2., 1.])       # item i scores 8 - i for everyone
    model = Fixed(torch.ones(3, 1), item_scores.unsqueeze(1))
    _, ranks = Evaluator(split, cands, torch.device("cpu"), mode="both").evaluate(model)
    # user 0: test 3 (score 5) vs 4,5,6 (4,3,2): first; full: competitors {4,5,6,7} (not train 0,1, not valid 2)
    assert ranks["test"].tolist() == [1, 4, 1]
    assert ranks["valid"].tolist() == [1, 4, 1]
    # full: user 1 test 7 vs {0,1,2,3}, all higher -> 5; user 2 test 1 vs {2,3,4,5} (valid 0 excluded) -> 1
    assert ranks["test_full"].tolist() == [1, 5, 1]
    assert ranks["valid_full"].tolist() == [1, 5, 1]


def test_full_ranks_against_brute_force():
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 50
    train_u, train_i, valid, test = [], [], [], []
    for u in range(n_users):
        items = rng.choice(n_items, 8, replace=False)
        valid.append(items[0]), test.append(items[1])
        train_u += [u] * 6
        train_i += list(items[2:])
    split = SplitData("r", n_users, n_items, np.array(train_u), np.array(train_i), np.array(valid),
                      np.array(test), source="random")
    model = Fixed(torch.randn(n_users, 4), torch.randn(n_items, 4))
    cands = np.stack([rng.choice(np.setdiff1d(np.arange(n_items), list(train_i[u * 6:(u + 1) * 6]) + [valid[u], test[u]]),
                                 10, replace=False) for u in range(n_users)])
    _, ranks = Evaluator(split, cands, torch.device("cpu"), mode="both", chunk=7).evaluate(model)
    scores = (model.user_emb @ model.item_emb.T).detach().numpy()
    for u in range(n_users):
        seen = set(train_i[u * 6:(u + 1) * 6])
        for name, target, other in (("test", test[u], valid[u]), ("valid", valid[u], test[u])):
            competitors = [j for j in range(n_items) if j not in seen and j not in (target, other)]
            assert ranks[name + "_full"][u] == 1 + sum(scores[u, j] >= scores[u, target] for j in competitors)
            assert ranks[name][u] == 1 + sum(scores[u, j] >= scores[u, target] for j in cands[u])


def test_sddmm_scores_match_gather():
    users, items = torch.randn(9, 5), torch.randn(40, 5)
    index = torch.randint(0, 40, (9, 13))
    expected = torch.bmm(items[index], users.unsqueeze(2)).squeeze(2)
    assert torch.allclose(SampledScorer(index)(users, items), expected, atol=1e-6)
