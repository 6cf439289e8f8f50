"""Scores of many (row, column) pairs against a whole embedding table, with both gradients.

RRD scores every batch user against K + L chosen items (and IR-RRD every chosen item against
K + L users): tens of thousands of pairs per batch. Gathering the [n, W, d] column rows and
scatter-adding their gradients back dominates that cost on a CPU, so there the pairs are a sparse
matrix S [n, n_cols] with W entries per row:
    forward   scores = S-pattern sampled product of rows and table      (no gather)
    backward  d rows = G @ table,  d table = G^T @ rows                  (G: S with the upstream grads)
Elsewhere (CUDA) the plain gather + product is fast and autograd does the rest.
"""
import warnings

import torch

from Utils.tensors.csr import fixed_width_csr, sampled_product


class _SparsePairScores(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rows, table, cols):
        scores = sampled_product(fixed_width_csr(cols, len(table), rows.new_zeros(cols.shape)), rows, table)
        ctx.save_for_backward(rows, table, cols)
        return scores.reshape(cols.shape)

    @staticmethod
    def backward(ctx, grad):
        rows, table, cols = ctx.saved_tensors
        grad = grad.contiguous()
        grad_rows = grad_table = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if ctx.needs_input_grad[0]:
                grad_rows = torch.sparse.mm(fixed_width_csr(cols, len(table), grad), table)
            if ctx.needs_input_grad[1]:
                grad_table = torch.sparse.mm(_transposed_pattern(cols, len(table), grad), rows)
        return grad_rows, grad_table, None


def _transposed_pattern(cols, n_cols, values):
    """The transpose of ``fixed_width_csr(cols, n_cols, values)``: CSR [n_cols, n], built by one argsort
    (on CPU about twice as fast as letting torch transpose and convert)."""
    n, width = cols.shape
    flat = cols.reshape(-1)
    order = torch.argsort(flat.to(torch.int32) if n_cols < 2 ** 31 else flat)   # int32 sorts ~40% faster
    crow = torch.zeros(n_cols + 1, dtype=torch.int64, device=cols.device)
    torch.cumsum(torch.bincount(flat, minlength=n_cols), 0, out=crow[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.sparse_csr_tensor(crow, order // width, values.reshape(-1)[order], size=(n_cols, n))


def pair_scores(rows, table, cols):
    """scores[b, w] = <rows[b], table[cols[b, w]]>.

    rows [n, d], table [n_cols, d], cols [n, W] int64 -> [n, W]; differentiable in rows and table
    (the table's gradient is dense [n_cols, d], zero outside the columns used).
    """
    if rows.device.type == "cpu":
        return _SparsePairScores.apply(rows, table, cols)
    return torch.bmm(table[cols], rows.unsqueeze(2)).squeeze(2)
