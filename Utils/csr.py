"""Compressed sparse rows for "the items of user u" (or the users of item i) on the device."""
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
