"""Per-user ratio splits in file order: the KDs toolkit's CiteULike preprocessing (github woriazzc/KDs,
``data/citeulike/preprocess_citeulike.py``), for the full-ranking protocols.

Its rule, reproduced (tests/test_ratio_split.py against a line-by-line transcription of it):
1. the pairs (user = line number of ``users.dat``, item) in file order;
2. repeated until nothing changes: drop users with fewer than ``min_user`` pairs, then items with fewer
   than ``min_item`` pairs (5 and 0: the script's own default for items is 5, but the files the toolkit
   ships were made with 0, its README's ``kcore4item: 0``; with 0 the counts are its README's exactly:
   5,219 users, 25,181 items, 98,405 / 12,451 / 14,724 train / valid / test pairs);
3. users and items renumbered 0.. in the order of their original ids;
4. each user's remaining pairs, in file order, cut at l = max(floor(a n / s), 1) and r = floor((a + b) n / s)
   for ratios a, b, c (s = a + b + c; 8, 1, 1): the first l to train, the next r - l to valid, the rest
   to test (no shuffling: a user's items keep the order of their line).
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class RatioSplit:
    n_users: int
    n_items: int
    train: np.ndarray      # [n_train, 2] (user, item), renumbered
    valid: np.ndarray      # [n_valid, 2]
    test: np.ndarray       # [n_test, 2]


def core_filter(users, items, min_user=5, min_item=5):
    """The pairs kept by alternately dropping rare users and rare items until both pass (in order)."""
    keep = np.ones(len(users), dtype=bool)
    while True:
        before = keep.sum()
        counts = np.bincount(users[keep], minlength=users.max() + 1 if len(users) else 0)
        keep &= counts[users] >= min_user
        counts = np.bincount(items[keep], minlength=items.max() + 1 if len(items) else 0)
        keep &= counts[items] >= min_item
        if keep.sum() == before:
            return keep


def ratio_split(users, items, ratios=(8, 1, 1), min_user=5, min_item=0):
    """users, items [n] int64 in file order -> RatioSplit (the toolkit's rule, module docstring);
    ratios: integers."""
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    keep = core_filter(users, items, min_user, min_item)
    users, items = users[keep], items[keep]
    user_ids, users = np.unique(users, return_inverse=True)
    item_ids, items = np.unique(items, return_inverse=True)
    order = np.argsort(users, kind="stable")                 # grouped by user, file order within
    users, items = users[order], items[order]
    counts = np.bincount(users, minlength=len(user_ids))
    position = np.arange(len(users)) - np.repeat(np.cumsum(counts) - counts, counts)
    a, b, c = ratios
    total = a + b + c
    n = counts[users]
    left = np.maximum((a * n) // total, 1)
    right = ((a + b) * n) // total
    pairs = np.stack([users, items], 1)
    part = np.where(position < left, 0, np.where(position < right, 1, 2))
    return RatioSplit(len(user_ids), len(item_ids), pairs[part == 0], pairs[part == 1], pairs[part == 2])
