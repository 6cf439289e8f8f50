"""The dense mixture of M two-layer experts with few passes over its [n, M*h] hidden layer.

    t_hat[e] = SUM_m w[e, m] * (W2_m relu(W1_m s[e] + b1_m) + b2_m)          (DE, CIKM'20, Eq. 2-3)

Written as two products over all experts at once (H = relu(s W1_all + b1) [n, M*h], then
(w (x) H) W2_stacked), autograd runs about fifteen elementwise passes over [n, M*h] tensors per call
besides the products (n ~ 1000 entities x 3300 for the paper's CiteULike student, x 8250 for NeuMF's:
13 and 33 MB each, beyond the caches), each a trip through memory. Here the six products stay whole,
with the shapes and operands autograd gives them, and the hidden layer is kept as autograd keeps it;
only the elementwise work goes through the rows in chunks of ``chunk`` rows, all of one chunk's work
done while it is in cache: bias, relu and weighting in one visit forward; grad w, the weighting's
gradient and relu's in one visit backward. Elementwise results do not depend on the chunking, and the
per-row sums run as autograd's, so the values are the same bit for bit (checked by the tests).
"""
import sys

import torch

DEFAULT_CHUNK = 32      # rows: 32 x 8250 floats = 1 MB, within a core's L2 (docs/speed.md)


def _row_chunks(n, chunk):
    """[(start, rows)]: n rows in the fewest chunks of at most ``chunk`` rows, their sizes differing
    by at most one."""
    count = max(1, -(-n // chunk))
    base, extra = divmod(n, count)
    sizes = [base + 1] * extra + [base] * (count - extra)
    starts = [sum(sizes[:i]) for i in range(count)]
    return list(zip(starts, sizes))


def _stacked(W1, W2):
    """W1 [M, d_s, h], W2 [M, h, d_t] -> W1_all [d_s, M*h], W2_all [M*h, d_t] (expert m's columns/rows
    at m*h .. (m+1)*h)."""
    M, d_s, h = W1.shape
    return W1.permute(1, 0, 2).reshape(d_s, M * h), W2.reshape(M * h, W2.shape[2])


class _DenseMixture(torch.autograd.Function):

    @staticmethod
    def forward(ctx, s, w, W1, b1, W2, b2, chunk):
        M, _, h = W1.shape
        W1_all, W2_all = _stacked(W1, W2)
        hidden = torch.mm(s, W1_all)                                   # [n, M*h], made H in place
        weighted = torch.empty_like(hidden)                            # w (x) H
        for r, c in _row_chunks(len(s), chunk):
            hid = hidden[r:r + c].add_(b1.reshape(-1)).relu_()
            torch.mul(hid.view(c, M, h), w[r:r + c].unsqueeze(2), out=weighted[r:r + c].view(c, M, h))
        ctx.save_for_backward(s, w, W1, b1, W2, b2, hidden, weighted)
        ctx.chunk = chunk
        return torch.mm(weighted, W2_all) + w @ b2

    @staticmethod
    def backward(ctx, grad_out):
        s, w, W1, b1, W2, b2, hidden, weighted = ctx.saved_tensors
        M, d_s, h = W1.shape
        n = len(s)
        W1_all, W2_all = _stacked(W1, W2)
        need_s, need_w, need_W1, need_b1, need_W2, need_b2 = ctx.needs_input_grad[:6]
        grad_w = s.new_empty(n, M)                                     # through the hidden layers
        grad = torch.mm(grad_out, W2_all.T)            # [n, M*h] at w (x) H, made the one at s W1_all + b1
        scratch = s.new_empty(min(n, ctx.chunk), M * h)
        for r, c in _row_chunks(n, ctx.chunk):
            g, hid = grad[r:r + c], hidden[r:r + c]
            if need_w:
                torch.sum(torch.mul(g, hid, out=scratch[:c]).view(c, M, h), 2, out=grad_w[r:r + c])
            g.view(c, M, h).mul_(w[r:r + c].unsqueeze(2))
            g.mul_(torch.sign(hid, out=scratch[:c]))                   # relu's gradient: H > 0
        grad_s = grad @ W1_all.T if need_s else None
        grad_W1 = (s.T @ grad).reshape(d_s, M, h).permute(1, 0, 2) if need_W1 else None
        grad_b1 = grad.sum(0).reshape(M, h) if need_b1 else None
        grad_W2 = (weighted.T @ grad_out).reshape(W2.shape) if need_W2 else None
        grad_b2 = w.T @ grad_out if need_b2 else None
        grad_w = grad_w + grad_out @ b2.T if need_w else None
        return grad_s, grad_w, grad_W1, grad_b1, grad_W2, grad_b2, None


def chunk_for(device):
    """Rows per chunk on ``device``: DEFAULT_CHUNK on the CPU, where a chunk's passes stay in the core's
    cache; all rows in one chunk elsewhere (a GPU streams the passes at its memory's speed, and every
    chunk costs kernel launches)."""
    return DEFAULT_CHUNK if torch.device(device).type == "cpu" else sys.maxsize


def dense_mixture(s, w, W1, b1, W2, b2, chunk=DEFAULT_CHUNK):
    """SUM_m w[:, m] * (relu(s W1[m] + b1[m]) W2[m] + b2[m]) for every row, all M experts.

    s [n, d_s], w [n, M] (w >= 0: selection weights), W1 [M, d_s, h], b1 [M, h], W2 [M, h, d_t],
    b2 [M, d_t] -> [n, d_t]; differentiable in all six. Keeps two [n, M*h] tensors (H and w (x) H) for
    the backward pass, which writes one more, plus a [chunk, M*h] buffer. ``chunk=None``: the same two
    products under autograd with its elementwise passes (the reference; the same numbers).
    """
    if chunk is None:
        W1_all, W2_all = _stacked(W1, W2)
        hidden = torch.relu(s @ W1_all + b1.reshape(-1))
        weighted = (hidden.view(len(s), *b1.shape) * w.unsqueeze(2)).reshape(hidden.shape)
        return weighted @ W2_all + w @ b2
    return _DenseMixture.apply(s, w, W1, b1, W2, b2, chunk)
