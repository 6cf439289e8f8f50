"""The teacher's ranking lists (docs/methods.md, RRD): per user, the top items outside the user's
train set in descending teacher score; per item, the top users who do not have it in train.

Computed once from the teacher on the training device in chunks of rows (never a full users x items
matrix), and cached beside the teacher checkpoint with its key and the fingerprint of its weights.
"""
import os
import sys

import torch

from Utils.tensors.csr import build_csr
from Utils.tensors.top_unobserved import top_unobserved, top_unobserved_by
from Utils.training.checkpoint import read_checkpoint, save_checkpoint, tensors_fingerprint
from Utils.errors import InputError


def valid_lists(stored, key, n_rows, n_cols, length):
    """Whether a stored cache is this teacher's lists, whole: its key (the teacher's weights included),
    shape, dtype, ids in range and distinct per row, and the checksum of its values."""
    lists = stored.get("state")
    return (stored.get("key") == key and isinstance(lists, torch.Tensor) and lists.dtype == torch.int64
            and tuple(lists.shape) == (n_rows, length) and stored.get("checksum") == tensors_fingerprint({"lists": lists})
            and bool(((lists >= 0) & (lists < n_cols)).all())
            and bool((lists.sort(1).values.diff(1) != 0).all()))


def load_or_compute_lists(teacher, teacher_key, teacher_path, split, side, length, device):
    """Teacher ranking lists for ``side`` ('user': items per user, 'item': users per item), cached
    as ``<teacher checkpoint>.<side>_top<length>.pt`` with the teacher's key and the fingerprint of its
    weights; a cache that does not match them, or is damaged, is computed again (with a note)."""
    key = dict(teacher_key, lists=side, length=length, weights=tensors_fingerprint(teacher.state_dict()))
    path = f"{os.path.splitext(teacher_path)[0]}.{side}_top{length}.pt"
    n_rows, n_cols = (split.n_users, split.n_items) if side == "user" else (split.n_items, split.n_users)
    if os.path.isfile(path):
        try:
            stored = read_checkpoint(path)
        except InputError:
            stored = {}
        if valid_lists(stored, key, n_rows, n_cols, length):
            return stored["state"].to(device)
        print(f"note: {path} is not this teacher's {side} lists (another teacher, or damaged): computing them again",
              file=sys.stderr)
    if side == "user":
        pointer, observed = build_csr(split.train_users, split.train_items, split.n_users, device)
        lists = top_unobserved_by(teacher.score_all, split.n_users, pointer, observed, length, device)
    else:
        if not teacher.dot_product:
            raise InputError(f"item-side ranking lists need a dot-product teacher, not {teacher.name}")
        pointer, observed = build_csr(split.train_items, split.train_users, split.n_items, device)
        lists = top_unobserved(teacher.item_repr(torch.arange(split.n_items, device=device)),
                               teacher.user_repr(torch.arange(split.n_users, device=device)),
                               pointer, observed, length)
    save_checkpoint(path, lists.cpu(), key, {"checksum": tensors_fingerprint({"lists": lists})})
    return lists
