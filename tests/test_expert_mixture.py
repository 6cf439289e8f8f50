"""The dense mixture of experts (Utils/tensors/expert_mixture.py): values and gradients against an
entity-by-entity loop, and the same bits as the two products under autograd."""
import pytest
import torch

from Models.DE import ExpertBank
from Utils.tensors.expert_mixture import DEFAULT_CHUNK, _row_chunks, chunk_for, dense_mixture


@pytest.fixture
def one_thread():
    """One thread, as the reference runs; the caller's setting restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def loop_mixture(s, w, W1, b1, W2, b2):
    """SUM_m w[e, m] (relu(s[e] W1[m] + b1[m]) W2[m] + b2[m]), one entity and one expert at a time."""
    rows = []
    for e in range(len(s)):
        rows.append(sum(w[e, m] * (torch.relu(s[e] @ W1[m] + b1[m]) @ W2[m] + b2[m]) for m in range(len(W1))))
    return torch.stack(rows)


def two_products(s, w, W1, b1, W2, b2):
    """All experts as two products, autograd for the rest: the form the chunked one must equal."""
    M, d_s, h = W1.shape
    hidden = torch.relu(s @ W1.permute(1, 0, 2).reshape(d_s, M * h) + b1.reshape(-1))
    weighted = (hidden.view(len(s), M, h) * w.unsqueeze(2)).reshape(len(s), M * h)
    return weighted @ W2.reshape(M * h, -1) + w @ b2


def inputs(n, M, d_s, d_t, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    bank = ExpertBank(M, d_s, d_t).to(dtype)
    s = torch.randn(n, d_s, generator=g, dtype=dtype, requires_grad=True)
    logits = torch.randn(n, M, generator=g, dtype=dtype, requires_grad=True)
    t = torch.randn(n, d_t, generator=g, dtype=dtype)
    return bank, s, logits, t


def values_and_gradients(mixture, bank, s, logits, t, hard=None):
    """t_hat and the gradients of SUM ||t - t_hat||^2 in s, the logits and the four weights."""
    leaves = (s, logits, bank.W1, bank.b1, bank.W2, bank.b2)
    w = torch.softmax(logits, 1)
    if hard is not None:                       # some weights exactly zero, as a hard selection gives
        w = w * hard
    out = mixture(s, w, bank.W1, bank.b1, bank.W2, bank.b2)
    grads = torch.autograd.grad(((t - out) ** 2).sum(), leaves)
    return [out.detach()] + list(grads)


@pytest.mark.parametrize("n, chunk", [(7, 3), (7, 128), (10, 4), (7, None)])
def test_values_and_gradients_against_a_loop(n, chunk):
    bank, s, logits, t = inputs(n, 4, 3, 5, torch.double)
    hard = (torch.arange(n * 4).reshape(n, 4) % 3 != 0).double()
    expected = values_and_gradients(loop_mixture, bank, s, logits, t, hard)
    got = values_and_gradients(lambda *a: dense_mixture(*a, chunk=chunk), bank, s, logits, t, hard)
    for a, b in zip(expected, got):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), (a - b).abs().max()


def test_gradcheck():
    bank, s, logits, _ = inputs(6, 3, 2, 4, torch.double)
    w = torch.softmax(logits, 1).detach().requires_grad_()
    params = [p.detach().requires_grad_() for p in (bank.W1, bank.b1, bank.W2, bank.b2)]
    assert torch.autograd.gradcheck(lambda *a: dense_mixture(*a, chunk=4), (s, w, *params))


@pytest.mark.parametrize("n, d_s, d_t", [(1, 20, 200), (3, 20, 200), (129, 20, 200), (705, 20, 200),
                                          (1007, 20, 200), (705, 50, 500), (1004, 50, 500)])
@pytest.mark.parametrize("chunk", [DEFAULT_CHUNK, 7, 128, chunk_for("cuda")])
def test_same_bits_as_two_products_at_the_paper_shapes(n, d_s, d_t, chunk, one_thread):
    """The BPR-MF shapes, and NeuMF's (representations 2 x 25 and 2 x 250) at CiteULike's and
    Foursquare's batch sizes; DE's chunk on the CPU, others, and all rows at once (its form elsewhere)."""
    bank, s, logits, t = inputs(n, 30, d_s, d_t, torch.float32, seed=n)
    expected = values_and_gradients(two_products, bank, s, logits, t)
    got = values_and_gradients(lambda *a: dense_mixture(*a, chunk=chunk), bank, s, logits, t)
    assert all(torch.equal(a, b) for a, b in zip(expected, got))


def test_chunks_fit_the_cache_on_the_cpu_only():
    assert chunk_for("cpu") == DEFAULT_CHUNK and _row_chunks(1004, chunk_for("cuda")) == [(0, 1004)]


def test_row_chunks_cover_the_rows_without_a_small_remainder():
    assert _row_chunks(5, 128) == [(0, 5)]
    assert _row_chunks(257, 128) == [(0, 86), (86, 86), (172, 85)]
    assert _row_chunks(300, 128) == [(0, 100), (100, 100), (200, 100)]
    for n in range(1, 600, 7):
        chunks = _row_chunks(n, 128)
        assert sum(c for _, c in chunks) == n and all(c <= 128 for _, c in chunks)
        assert [r for r, _ in chunks] == [sum(c for _, c in chunks[:i]) for i in range(len(chunks))]
        assert min(c for _, c in chunks) >= max(c for _, c in chunks) - 1
