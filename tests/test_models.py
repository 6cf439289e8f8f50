"""Base models against direct formulas: NeuMF's score, loss and representations; every model's
score_all, score and score_candidates agree."""
import math

import pytest
import torch

from Models.method import Batch
from Models.NeuMF import NeuMF
from Models.zoo import BASE_MODELS
from Utils.row_gradients import RowGradients


@torch.no_grad()
def neumf_by_hand(m, u, i):
    """w^T [e^G_u * e^G_i ; relu(W [e^M_u ; e^M_i] + b)] + b0, one pair at a time."""
    gmf = m.gmf_user[u] * m.gmf_item[i]
    hidden = torch.relu(m.hidden.weight @ torch.cat([m.mlp_user[u], m.mlp_item[i]]) + m.hidden.bias)
    return float(m.out.weight[0] @ torch.cat([gmf, hidden]) + m.out.bias[0])


def spread(model):
    with torch.no_grad():
        for table in model.tables():
            table.mul_(50)
    return model


def test_neumf_score_is_the_papers_formula():
    torch.manual_seed(0)
    m = spread(NeuMF(5, 9, 4))
    users, items = torch.tensor([0, 3, 4]), torch.tensor([[1, 2, 8], [0, 0, 5], [7, 6, 3]])
    got = m.score(users, items)
    for b in range(3):
        for c in range(3):
            assert got[b, c].item() == pytest.approx(neumf_by_hand(m, users[b], items[b, c]), rel=1e-5, abs=1e-6)
    assert sum(p.numel() for p in m.parameters()) == 2 * (5 + 9) * 4 + (8 * 4 + 4) + (8 + 1)


def test_neumf_parameter_count_matches_the_paper_on_citeulike():
    count = lambda d: 2 * (5219 + 25181) * d + (2 * d * d + d) + (2 * d + 1)     # noqa: E731
    assert round(count(250) / 1e6, 2) == 15.33 and round(count(25) / 1e6, 2) == 1.52


def test_neumf_loss_is_binary_cross_entropy_of_positive_and_negative():
    torch.manual_seed(1)
    m = spread(NeuMF(6, 10, 3))
    users, pos, neg = torch.tensor([0, 1, 5]), torch.tensor([2, 3, 4]), torch.tensor([7, 8, 9])
    loss = m.train_loss(Batch(users, pos, neg, m, RowGradients(m.tables())))
    expected = 0.0
    for u, i, j in zip(users, pos, neg):
        si, sj = neumf_by_hand(m, u, i), neumf_by_hand(m, u, j)
        expected += -math.log(1 / (1 + math.exp(-si))) - math.log(1 - 1 / (1 + math.exp(-sj)))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("model", sorted(BASE_MODELS))
def test_score_all_score_and_batch_scores_agree(model):
    torch.manual_seed(2)
    m = spread(BASE_MODELS[model](7, 30, 5))
    users = torch.tensor([0, 2, 6, 6])
    full = m.score_all(users)
    items = torch.tensor([[0, 29, 3], [4, 4, 5], [10, 11, 12], [1, 2, 3]])
    assert torch.allclose(full.gather(1, items), m.score(users, items), rtol=1e-5, atol=1e-5)
    many = torch.arange(30).repeat(4, 2)                # more entries than items: the projected path
    assert torch.allclose(full.repeat(1, 2), m.score(users, many), rtol=1e-5, atol=1e-5)
    batch = Batch(users, users, users, m, RowGradients(m.tables()))
    assert torch.allclose(batch.scores(users, items), m.score(users, items), rtol=1e-5, atol=1e-5)
    assert m.user_repr(users).shape == (4, m.repr_dim) == batch.user_repr(users).shape
    assert m.repr_dim == BASE_MODELS[model].representation_size(5)
