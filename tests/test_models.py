"""Base models against direct formulas: NeuMF's and CML's score, loss and representations; every model's
score_all, score and score_candidates agree."""
import math

import pytest
import torch

from Models.method import Batch
from Models.NeuMF import NeuMF
from Models.LightGCN import LightGCN
from Models.zoo import BASE_MODELS
from Utils.data.dataset import SplitData
from Utils.tensors.row_gradients import RowGradients


def graph_split(n_users, n_items, seed=0):
    """Users with 3 random items each, as a split a graph model can attach."""
    g = torch.Generator().manual_seed(seed)
    items = torch.stack([torch.randperm(n_items, generator=g)[:3] for _ in range(n_users)]).reshape(-1)
    users = torch.arange(n_users).repeat_interleave(3)
    none = torch.full((n_users,), -1)
    return SplitData("g", n_users, n_items, users.numpy(), items.numpy(), none.numpy(), none.numpy(), "hand")


def make(model, n_users, n_items, dim):
    m = BASE_MODELS[model](n_users, n_items, dim)
    return m.attach(graph_split(n_users, n_items)) if hasattr(m, "attach") else m


def neumf_pair(m, u, i):
    """w^T [e^G_u * e^G_i ; relu(W [e^M_u ; e^M_i] + b)] + b0, one pair at a time (a 0-d tensor)."""
    gmf = m.gmf_user[u] * m.gmf_item[i]
    hidden = torch.relu(m.hidden.weight @ torch.cat([m.mlp_user[u], m.mlp_item[i]]) + m.hidden.bias)
    return m.out.weight[0] @ torch.cat([gmf, hidden]) + m.out.bias[0]


@torch.no_grad()
def neumf_by_hand(m, u, i):
    return float(neumf_pair(m, u, i))


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


@pytest.mark.parametrize("n_candidates", [2, 5])       # 3 x 2 items: gathered rows; 3 x 5 > 9: the projected table
def test_neumf_score_gradients_are_the_papers_formulas(n_candidates):
    """score's in-place relu keeps autograd's gradients: every parameter's gradient of sum(sin(score)) equals
    that of the formula written pair by pair."""
    torch.manual_seed(1)
    m = spread(NeuMF(5, 9, 4))
    users, items = torch.tensor([0, 3, 4]), torch.randint(0, 9, (3, n_candidates))

    def by_hand():
        return sum(torch.sin(neumf_pair(m, users[b], items[b, c])) for b in range(3) for c in range(n_candidates))

    grads = []
    for loss in (lambda: torch.sin(m.score(users, items)).sum(), by_hand):
        m.zero_grad()
        loss().backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    assert any(g.abs().sum() > 0 for g in grads[0])
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_neumf_parts_alone_are_the_gmf_and_mlp_models_and_train_only_their_own_tables():
    torch.manual_seed(3)
    users, items = torch.tensor([0, 2, 4]), torch.tensor([[1, 2, 8], [0, 5, 5], [7, 6, 3]])
    for part in ("gmf", "mlp"):
        m = spread(NeuMF(5, 9, 4, part))
        got = m.score(users, items)
        with torch.no_grad():
            for b in range(3):
                for c in range(3):
                    u, i = users[b], items[b, c]
                    if part == "gmf":
                        want = m.out.weight[0, :4] @ (m.gmf_user[u] * m.gmf_item[i]) + m.out.bias[0]
                    else:
                        hidden = torch.relu(m.hidden.weight @ torch.cat([m.mlp_user[u], m.mlp_item[i]]) + m.hidden.bias)
                        want = m.out.weight[0, 4:] @ hidden + m.out.bias[0]
                    assert got[b, c].item() == pytest.approx(want.item(), rel=1e-5, abs=1e-5)
        got.sum().backward()
        unused = (m.mlp_user, m.mlp_item) if part == "gmf" else (m.gmf_user, m.gmf_item)
        assert all(t.grad is None for t in unused)
        assert torch.allclose(m.score_all(users).gather(1, items), got, atol=1e-4)


def test_neumf_from_pretrained_parts_starts_at_their_weighted_mean():
    """The NeuMF release's load_pretrain_model: s = 0.5 s_GMF + 0.5 s_MLP at the start."""
    torch.manual_seed(4)
    gmf, mlp = spread(NeuMF(5, 9, 4, "gmf")), spread(NeuMF(5, 9, 4, "mlp"))
    for m in (gmf, mlp):
        torch.nn.init.normal_(m.out.bias)
    both = NeuMF(5, 9, 4).load_parts(gmf, mlp)
    users, items = torch.tensor([0, 1, 4]), torch.tensor([[1, 2, 8], [0, 5, 5], [7, 6, 3]])
    want = 0.5 * gmf.score(users, items) + 0.5 * mlp.score(users, items)
    assert torch.allclose(both.score(users, items), want, atol=1e-5)
    assert torch.equal(both.gmf_user, gmf.gmf_user) and torch.equal(both.mlp_item, mlp.mlp_item)
    with pytest.raises(ValueError, match="a GMF and an MLP part"):
        NeuMF(5, 9, 4).load_parts(mlp, gmf)


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
    m = spread(make(model, 7, 30, 5))
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


def test_lightgcn_propagation_against_a_dense_reference():
    torch.manual_seed(3)
    split = graph_split(5, 8)
    m = spread(LightGCN(5, 8, 4, layers=2).attach(split))
    adjacency = torch.zeros(13, 13, dtype=torch.float64)
    for u, i in zip(split.train_users, split.train_items):
        adjacency[u, 5 + i] = adjacency[5 + i, u] = 1
    degree = adjacency.sum(1)
    inv_sqrt = torch.where(degree > 0, degree.rsqrt(), torch.zeros_like(degree))
    a_hat = inv_sqrt[:, None] * adjacency * inv_sqrt[None, :]
    e0 = torch.cat([m.user_emb, m.item_emb]).detach().double()
    expected = (e0 + a_hat @ e0 + a_hat @ a_hat @ e0) / 3
    users, items = m.propagate(m.user_emb, m.item_emb)
    assert torch.allclose(torch.cat([users, items]).double(), expected, rtol=1e-5, atol=1e-6)
    assert torch.allclose(m.score_all(torch.arange(5)).double(), expected[:5] @ expected[5:].T, rtol=1e-4, atol=1e-5)


def test_a_frozen_lightgcn_propagates_once_and_a_training_one_every_time(monkeypatch):
    """A teacher's tables are kept (one propagation however many batches read them) and follow a loaded
    state; a model in training is re-propagated after each (fused-style, version-less) step."""
    torch.manual_seed(5)
    split = graph_split(5, 8)
    m = spread(LightGCN(5, 8, 4, layers=2).attach(split))
    calls = []
    propagate = m.propagate
    monkeypatch.setattr(m, "propagate", lambda *tables: calls.append(1) or propagate(*tables))
    users = torch.arange(5)
    before = m.score_all(users).clone()
    with torch.no_grad():
        m.user_emb.data.add_(1.0)          # a write that torch's version counter does not see
    assert not torch.equal(m.score_all(users), before) and len(calls) == 2
    m.requires_grad_(False)
    frozen = m.score_all(users).clone()
    for _ in range(3):
        assert torch.equal(m.user_repr(users), propagate(m.user_emb, m.item_emb)[0])
        assert torch.equal(m.score_all(users), frozen)
    assert len(calls) == 3                 # two while training, one for the frozen model's three batches
    state = {k: v + 0.5 for k, v in m.state_dict().items()}
    m.load_state_dict(state)
    assert not torch.equal(m.score_all(users), frozen) and len(calls) == 4
    fu, fi = propagate(m.user_emb, m.item_emb)
    assert torch.equal(m.score_all(users), fu @ fi.T)


def test_lightgcn_loss_is_bpr_on_propagated_embeddings_plus_layer0_l2():
    torch.manual_seed(4)
    m = spread(LightGCN(6, 10, 3, layers=3, l2=0.5).attach(graph_split(6, 10)))
    users, pos, neg = torch.tensor([0, 4]), torch.tensor([1, 2]), torch.tensor([7, 9])
    loss = m.train_loss(Batch(users, pos, neg, m, RowGradients(m.tables())))
    with torch.no_grad():
        fu, fi = m.propagate(m.user_emb, m.item_emb)
        x = (fu[users] * (fi[pos] - fi[neg])).sum(1)
        l2 = m.user_emb[users].pow(2).sum() + m.item_emb[pos].pow(2).sum() + m.item_emb[neg].pow(2).sum()
    assert loss.item() == pytest.approx((-torch.nn.functional.logsigmoid(x).sum() + 0.25 * l2).item(), rel=1e-5)


@torch.no_grad()
def test_cml_score_is_minus_the_squared_distance_inside_the_unit_ball():
    from Models.CML import CML, MARGIN
    torch.manual_seed(0)
    m = CML(5, 9, 4)
    with torch.no_grad():
        m.user_emb.normal_(0, 1.0)           # some rows outside the unit ball, some inside
        m.item_emb.normal_(0, 0.3)

    def point(x):
        norm = x.norm().item()
        return x / norm if norm > 1 else x
    users, items = torch.tensor([0, 3]), torch.tensor([[1, 8, 2], [0, 5, 5]])
    got = m.score(users, items)
    for b in range(2):
        for c in range(3):
            expected = -float(((point(m.user_emb[users[b]]) - point(m.item_emb[items[b, c]])) ** 2).sum())
            assert got[b, c].item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    every = m.score_all(users)
    assert torch.allclose(every.gather(1, items), got, atol=1e-5)
    batch = Batch(torch.tensor([0, 3]), torch.tensor([1, 0]), torch.tensor([8, 5]), m, RowGradients(m.tables()))
    s_pos, s_neg = got[:, 0], got[:, 1]
    expected_loss = sum(max(0.0, MARGIN - float(p) + float(n)) for p, n in zip(s_pos, s_neg))
    assert m.train_loss(batch).item() == pytest.approx(expected_loss, rel=1e-5)


def test_cml_warp_loss_and_gradient_equal_the_release_formula():
    """With U negatives per pair: SUM_b log(1 + J M_b / U) [m + d+ - min_k d-_k]_+ (the CML release's
    embedding_loss), its weight without gradient; the trainer's batches carry the U negatives."""
    from Models.CML import CML, MARGIN
    torch.manual_seed(1)
    m = CML(4, 12, 3, negatives=5)
    with torch.no_grad():
        m.user_emb.normal_(0, 0.4)
        m.item_emb.normal_(0, 0.4)
    users, pos = torch.tensor([0, 1, 3]), torch.tensor([2, 7, 11])
    negatives = torch.tensor([[0, 1, 3, 4, 5], [2, 3, 8, 9, 10], [1, 1, 6, 8, 9]])
    grads = RowGradients(m.tables())
    batch = Batch(users, pos, negatives[:, 0], m, grads, negatives=negatives)
    loss = m.train_loss(batch)
    with torch.no_grad():
        d_pos = -m.score(users, pos.unsqueeze(1)).squeeze(1)
        d_neg = -m.score(users, negatives)
    expected = 0.0
    for b in range(3):
        hinge = max(0.0, MARGIN + float(d_pos[b]) - float(d_neg[b].min()))
        impostors = float((MARGIN + d_pos[b] - d_neg[b] > 0).float().mean())
        expected += math.log(impostors * 12 + 1) * hinge
    assert loss.item() == pytest.approx(expected, rel=1e-5) and expected > 0
    users_plain = Batch(users, pos, negatives[:, 0], m, RowGradients(m.tables()))      # one negative: plain hinge
    plain = sum(max(0.0, MARGIN + float(d_pos[b]) - float(d_neg[b, 0])) for b in range(3))
    assert m.train_loss(users_plain).item() == pytest.approx(plain, rel=1e-5)


def test_the_trainer_draws_each_pair_its_negatives_outside_its_training_items():
    from Utils.tensors.sampling import PairSet, torch_draw
    from Utils.training.trainer import TrainingData, draw_negatives
    split = graph_split(6, 10)
    data = TrainingData(split, torch.device("cpu"))
    got = draw_negatives(data, 7, torch_draw(torch.Generator().manual_seed(0)))
    assert got.shape == (len(data.users), 7)
    assert not PairSet(data.users, data.pos, 10).contains(data.users.unsqueeze(1).expand(-1, 7), got).any()
    one = draw_negatives(data, 1, torch_draw(torch.Generator().manual_seed(0)))
    assert one.shape == (len(data.users),)


@pytest.mark.parametrize("side", ["user", "item"])
@torch.no_grad()
def test_autoencoders_encode_their_rows_and_train_on_the_multinomial_likelihood(side):
    from Models.AutoEncoder import ItemAutoEncoder, UserAutoEncoder
    torch.manual_seed(3)
    split = graph_split(6, 10)
    m = spread((UserAutoEncoder if side == "user" else ItemAutoEncoder)(6, 10, 4).attach(split))
    with torch.no_grad():
        m.input_bias.normal_(0, 0.3)
        m.output_bias.normal_(0, 0.3)
    train = list(zip(split.train_users.tolist(), split.train_items.tolist()))

    def h(row):           # the encoding by hand: tanh(mean-like sum of the row's inputs + bias)
        inputs = [i for u, i in train if u == row] if side == "user" else [u for u, i in train if i == row]
        return torch.tanh(sum(m.input_emb[j] for j in inputs) / math.sqrt(len(inputs)) + m.input_bias)

    def s(u, i):
        if side == "user":
            return float(h(u) @ m.output_emb[i] + m.output_bias[i])
        return float(m.output_emb[u] @ h(i) + m.output_bias[u])
    users, items = torch.tensor([0, 4]), torch.tensor([[1, 7, 2], [0, 9, 3]])
    got = m.score(users, items)
    for b in range(2):
        for c in range(3):
            assert got[b, c].item() == pytest.approx(s(int(users[b]), int(items[b, c])), rel=1e-5, abs=1e-6)
    m.eval()                                                  # no input dropout: the loss is deterministic
    u_b, i_b = torch.tensor([0, 4, 4]), torch.tensor([1, 9, 3])
    loss = m.train_loss(Batch(u_b, i_b, torch.tensor([2, 2, 2]), m, RowGradients(m.tables())))
    expected = 0.0
    for u, i in zip(u_b.tolist(), i_b.tolist()):
        if side == "user":
            row = [s(u, j) for j in range(10)]
            expected -= row[i] - math.log(sum(math.exp(x) for x in row))
        else:
            column = [s(v, i) for v in range(6)]
            expected -= column[u] - math.log(sum(math.exp(x) for x in column))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
