"""Compressed sparse rows for "the items of user u" (or the users of item i) on the device."""
import warnings

import numpy as np
import torch


def build_csr(rows, cols, n_rows, device):
    """numpy pairs -> (pointer [n_rows + 1] int64, cols sorted by row [nnz] int64) on ``device``."""
    order = np.argsort(rows, kind="stable")
    pointer = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
    return torch.from_numpy(pointer).to(device), torch.from_numpy(np.asarray(cols)[order]).to(device)


def gather_rows(pointer, cols, rows):
    """The entries of ``rows`` [B]: (index into ``rows`` [nnz_B], column [nnz_B]), grouped by row."""
    lo, hi = pointer[rows], pointer[rows + 1]
    lengths = hi - lo
    owner = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), lengths)
    offsets = torch.arange(len(owner), device=rows.device) - torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    return owner, cols[lo[owner] + offsets]


def fixed_width_csr(cols, n_cols, values):
    """Sparse CSR [n, n_cols] whose row b holds ``values[b]`` at columns ``cols[b]`` (cols, values [n, W];
    columns in any order)."""
    n, width = cols.shape
    crow = torch.arange(0, n * width + 1, width, device=cols.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, cols.reshape(-1), values.reshape(-1), size=(n, n_cols))


def sampled_product(pattern, rows, table):
    """<rows[b], table[j]> at each entry (b, j) of ``pattern`` [n, n_cols], in its order -> [nnz].

    rows [n, d], table [>= n_cols, d]. A sampled dense-dense product (SDDMM): on CPU it never
    materialises the gathered [nnz, d] table rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.sparse.sampled_addmm(pattern, rows, table[:pattern.shape[1]].T, beta=0.0).values()
