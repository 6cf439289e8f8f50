"""The dense mixture of M two-layer experts with few passes over its [n, M*h] hidden layer.

    t_hat[e] = SUM_m w[e, m] * (W2_m relu(W1_m s[e] + b1_m) + b2_m)          (DE, CIKM'20, Eq. 2-3)

Written as two products over all experts at once (H = relu(s W1_all + b1) [n, M*h], then
(w (x) H) W2_stacked), autograd keeps H and w (x) H and runs about fifteen elementwise passes over
[n, M*h] tensors per call (n ~ 1000 entities x 3300 for the paper's CiteULike student: 13 MB each, more
than the cache holds once three are live). Here the elementwise work goes through the rows in chunks
of ``chunk`` rows, each chunk's hidden layer used while it is in cache and recomputed from s in the
backward pass; only w (x) H and the gradient at the first layer's output are written whole, for the
four products whose sum runs over the rows (the weight gradients, the gradient of s). Every product
has the shape and operands autograd gives it, so the values are the same bit for bit where the BLAS
computes a row block of a product as it computes that block of the whole (checked by the tests).
"""
import torch

DEFAULT_CHUNK = 128
WIDE_EXPERTS = 400      # output widths from which the unchunked form is faster (200: chunked; 500: unchunked)


def _row_chunks(n, chunk):
    """[(start, rows)]: n rows in the fewest chunks of at most ``chunk`` rows, their sizes differing
    by at most one (no small remainder, which a BLAS may compute with another kernel)."""
    count = max(1, -(-n // chunk))
    base, extra = divmod(n, count)
    sizes = [base + 1] * extra + [base] * (count - extra)
    starts = [sum(sizes[:i]) for i in range(count)]
    return list(zip(starts, sizes))


def _first_layer(s_c, W1_all, b1_all, out):
    """relu(s_c W1_all + b1) into ``out`` [c, M*h] (a product, then the bias: as autograd's version)."""
    return torch.mm(s_c, W1_all, out=out).add_(b1_all).relu_()


class _DenseMixture(torch.autograd.Function):

    @staticmethod
    def forward(ctx, s, w, W1, b1, W2, b2, chunk):
        M, d_s, h = W1.shape
        n, d_t = len(s), W2.shape[2]
        W1_all = W1.permute(1, 0, 2).reshape(d_s, M * h)
        W2_all = W2.reshape(M * h, d_t)
        weighted = s.new_empty(n, M * h)                       # w (x) H, kept for grad W2
        chunks = _row_chunks(n, chunk)
        hidden = s.new_empty(chunks[0][1], M * h)
        products = s.new_empty(n, d_t)
        for r, c in chunks:
            hid = _first_layer(s[r:r + c], W1_all, b1.reshape(-1), hidden[:c])
            torch.mul(hid.view(c, M, h), w[r:r + c].unsqueeze(2), out=weighted[r:r + c].view(c, M, h))
            torch.mm(weighted[r:r + c], W2_all, out=products[r:r + c])
        ctx.save_for_backward(s, w, W1, b1, W2, b2, weighted)
        ctx.chunk = chunk
        return products + w @ b2

    @staticmethod
    def backward(ctx, grad_out):
        s, w, W1, b1, W2, b2, weighted = ctx.saved_tensors
        M, d_s, h = W1.shape
        n, chunk = len(s), ctx.chunk
        W1_all = W1.permute(1, 0, 2).reshape(d_s, M * h)
        W2_all = W2.reshape(M * h, W2.shape[2])
        need_s, need_w, need_W1, need_b1, need_W2, need_b2 = ctx.needs_input_grad[:6]
        grad_w = s.new_empty(n, M)                                     # through the hidden layers
        grad_pre = s.new_empty(n, M * h)                               # at the first layer's output
        chunks = _row_chunks(n, chunk)
        hidden = s.new_empty(chunks[0][1], M * h)
        scratch = s.new_empty(chunks[0][1], M * h)
        for r, c in chunks:
            hid = _first_layer(s[r:r + c], W1_all, b1.reshape(-1), hidden[:c])
            g_weighted = torch.mm(grad_out[r:r + c], W2_all.T, out=grad_pre[r:r + c])   # [c, M*h]
            if need_w:
                product = torch.mul(g_weighted, hid, out=scratch[:c])
                torch.sum(product.view(c, M, h), 2, out=grad_w[r:r + c])
            g_weighted.view(c, M, h).mul_(w[r:r + c].unsqueeze(2))
            g_weighted.mul_(torch.sign(hid, out=scratch[:c]))             # relu's gradient: H > 0
        grad_s = grad_pre @ W1_all.T if need_s else None
        grad_W1 = (s.T @ grad_pre).reshape(d_s, M, h).permute(1, 0, 2) if need_W1 else None
        grad_b1 = grad_pre.sum(0).reshape(M, h) if need_b1 else None
        grad_W2 = (weighted.T @ grad_out).reshape(W2.shape) if need_W2 else None
        grad_b2 = w.T @ grad_out if need_b2 else None
        grad_w = grad_w + grad_out @ b2.T if need_w else None
        return grad_s, grad_w, grad_W1, grad_b1, grad_W2, grad_b2, None


def chunk_for(d_t):
    """The faster form for experts of output width ``d_t``: chunks of DEFAULT_CHUNK rows below
    WIDE_EXPERTS (the BPR-MF teacher's 200), None, the two products unchunked, from it (NeuMF's 500, where
    a product's share of the work is larger and chunked products split worse between threads: docs/speed.md)."""
    return None if d_t >= WIDE_EXPERTS else DEFAULT_CHUNK


def dense_mixture(s, w, W1, b1, W2, b2, chunk=DEFAULT_CHUNK):
    """SUM_m w[:, m] * (relu(s W1[m] + b1[m]) W2[m] + b2[m]) for every row, all M experts.

    s [n, d_s], w [n, M] (w >= 0: selection weights), W1 [M, d_s, h], b1 [M, h], W2 [M, h, d_t],
    b2 [M, d_t] -> [n, d_t]; differentiable in all six. Keeps one [n, M*h] tensor for the backward
    pass, plus three [chunk, M*h] buffers while it runs. ``chunk=None``: the same two products whole
    under autograd (H and w (x) H kept, with autograd's elementwise passes), the same numbers.
    """
    if chunk is None:
        M, d_s, h = W1.shape
        hidden = torch.relu(s @ W1.permute(1, 0, 2).reshape(d_s, M * h) + b1.reshape(-1))
        weighted = (hidden.view(len(s), M, h) * w.unsqueeze(2)).reshape(len(s), M * h)
        return weighted @ W2.reshape(M * h, -1) + w @ b2
    return _DenseMixture.apply(s, w, W1, b1, W2, b2, chunk)
