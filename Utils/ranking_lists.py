"""The teacher's ranking lists (REFERENCE section 4): per user, the top items outside the user's
train set in descending teacher score; per item, the top users who do not have it in train.

Computed once from the teacher on the training device in chunks of rows (never a full users x items
matrix), and cached beside the teacher checkpoint with its key.
"""
import os

import torch

from Utils.atomic import atomic_path
from Utils.csr import build_csr
from Utils.checkpoint import load_checkpoint


@torch.no_grad()
def top_unobserved(query, keys, pointer, observed, length, chunk=512):
    """For each query row, the ``length`` highest-scoring keys it has not observed, best first.

    query [n_q, d], keys [n_k, d], (pointer, observed): CSR of each query row's observed keys.
    -> [n_q, length] int64.
    """
    out = torch.empty((len(query), length), dtype=torch.int64, device=query.device)
    for start in range(0, len(query), chunk):
        stop = min(start + chunk, len(query))
        scores = query[start:stop] @ keys.T                                    # [B, n_k]
        lo, hi = pointer[start], pointer[stop]
        lengths = pointer[start + 1:stop + 1] - pointer[start:stop]
        owner = torch.repeat_interleave(torch.arange(stop - start, device=query.device), lengths)
        scores[owner, observed[lo:hi]] = -torch.inf
        out[start:stop] = torch.topk(scores, length, dim=1, sorted=True).indices
    return out


def load_or_compute_lists(teacher, teacher_key, teacher_path, split, side, length, device):
    """Teacher ranking lists for ``side`` ('user': items per user, 'item': users per item), cached
    as ``<teacher checkpoint>.<side>_top<length>.pt`` and refused if their key does not match."""
    key = dict(teacher_key, lists=side, length=length)
    path = f"{os.path.splitext(teacher_path)[0]}.{side}_top{length}.pt"
    if os.path.isfile(path):
        return load_checkpoint(path, key)["state"].to(device)
    if side == "user":
        query, keys, n_rows = teacher.user_emb, teacher.item_emb, split.n_users
        pointer, observed = build_csr(split.train_users, split.train_items, n_rows, device)
    else:
        query, keys, n_rows = teacher.item_emb, teacher.user_emb, split.n_items
        pointer, observed = build_csr(split.train_items, split.train_users, n_rows, device)
    lists = top_unobserved(query.detach(), keys.detach(), pointer, observed, length)
    with atomic_path(path) as tmp:
        torch.save({"key": key, "state": lists.cpu()}, tmp)
    return lists
