"""The mixture over selected (entity, expert) pairs (Utils/tensors/expert_pairs.py): values and
gradients against an entity-by-entity loop, in both layouts, and the two layouts against each other."""
import pytest
import torch

from Utils.tensors.expert_pairs import _groups, pair_mixture
from tests.test_expert_mixture import inputs, loop_mixture, one_thread, values_and_gradients  # noqa: F401 (a fixture)


def selection(n, M, seed, per_entity=1):
    """A hard-ish selection: logits [n, M] (the weights are their softmax) and active [n, M], each row's
    ``per_entity`` largest (half the experts get no row at all), plus an active-but-tiny pair in some rows."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, M, generator=g, dtype=torch.double) * 4
    logits[:, M // 2:] -= 50                      # half the experts never selected
    active = torch.zeros(n, M, dtype=torch.bool)
    active.scatter_(1, logits.topk(per_entity, 1).indices, True)
    active[::3, 0] = True
    return logits, active


def over(active, layout=None):
    """The mixture over the pairs in ``active`` in a layout (None: the loop reference), as a function of
    (s, w, W1, b1, W2, b2) like the dense mixture."""
    if layout is None:
        return lambda s, w, *weights: loop_mixture(s, w * active, *weights)
    return lambda s, w, *weights: pair_mixture(s, w, active, *weights, layout=layout)


@pytest.mark.parametrize("layout", ["groups", "tiles"])
@pytest.mark.parametrize("n, per_entity", [(1, 1), (9, 1), (70, 2), (150, 1)])
def test_values_and_gradients_against_a_loop(layout, n, per_entity):
    bank, s, _, t = inputs(n, 6, 3, 5, torch.double, seed=n)
    logits, active = selection(n, 6, seed=n, per_entity=per_entity)
    logits.requires_grad_()
    expected = values_and_gradients(over(active), bank, s, logits, t)
    got = values_and_gradients(over(active, layout), bank, s, logits, t)
    for a, b in zip(expected, got):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), (a - b).abs().max()


def test_gradcheck_of_the_groups():
    bank, s, _, _ = inputs(8, 4, 2, 3, torch.double)
    logits, active = selection(8, 4, seed=1, per_entity=2)
    w = torch.softmax(logits, 1).requires_grad_()
    params = [p.detach().requires_grad_() for p in (bank.W1, bank.b1, bank.W2, bank.b2)]
    assert torch.autograd.gradcheck(lambda s, w, *p: pair_mixture(s, w, active, *p, layout="groups"),
                                    (s, w, *params))


@pytest.mark.parametrize("n", [705, 1004])
def test_layouts_agree_at_the_paper_shapes(n, one_thread):   # noqa: F811
    """Every output row is the same products in both layouts: t_hat and the gradients reaching the
    student and the selection equal bit for bit; the weight gradients are sums in another order."""
    bank, s, _, t = inputs(n, 30, 20, 200, torch.float32, seed=n)
    logits, active = selection(n, 30, seed=n)
    logits = logits.float().requires_grad_()
    groups = values_and_gradients(over(active, "groups"), bank, s, logits, t)
    tiles = values_and_gradients(over(active, "tiles"), bank, s, logits, t)
    assert torch.equal(groups[0], tiles[0])
    for a, b in zip(groups[1:], tiles[1:]):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item()), (a - b).abs().max()


@pytest.fixture
def nan_for_uninitialised():
    """torch's deterministic mode fills every new uninitialised tensor with NaN, so a gradient entry
    that no product or fill wrote shows as NaN; the caller's setting restored after."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


def test_experts_without_rows_get_zero_gradients(nan_for_uninitialised):
    """The weight gradients are allocated uninitialised: the idle experts' parts must be set to zero."""
    assert torch.utils.deterministic.fill_uninitialized_memory
    bank, s, logits, t = inputs(12, 6, 3, 5, torch.double, seed=3)
    active = torch.zeros(12, 6, dtype=torch.bool)
    active[:, 1] = active[::2, 4] = True                     # experts 0, 2, 3 and 5 get no rows
    _, _, _, grad_W1, grad_b1, grad_W2, _ = values_and_gradients(over(active, "groups"), bank, s, logits, t)
    for grad in (grad_W1, grad_b1, grad_W2):
        assert torch.equal(grad[[0, 2, 3, 5]], torch.zeros_like(grad[[0, 2, 3, 5]]))
        assert grad[[1, 4]].abs().sum() > 0 and torch.isfinite(grad).all()


def test_groups_skip_the_experts_without_rows():
    assert _groups([2, 0, 3, 0]) == [(0, 0, 2), (2, 2, 3)]
    assert _groups([0, 0]) == []


def test_an_unknown_layout_is_refused():
    bank, s, _, _ = inputs(3, 2, 2, 2, torch.double)
    with pytest.raises(ValueError, match="layout"):
        pair_mixture(s, torch.ones(3, 2), torch.ones(3, 2, dtype=torch.bool), bank.W1, bank.b1, bank.W2,
                     bank.b2, layout="rows")
