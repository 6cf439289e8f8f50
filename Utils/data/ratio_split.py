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


def hetcomp_split(users, items, test_ratio=0.2, seed=0, min_user=5):
    """The HetComp release's split (github SeongKu-Kang/HetComp_WWW23, ``Utils/data_utils.py``,
    ``load_data``), reproduced:

    1. users with fewer than ``min_user`` pairs dropped (one pass, no item filter); users and items
       renumbered in order of first appearance in the file;
    2. each user in that order: its items (file order, repeats once) shuffled by numpy's legacy
       generator seeded once with ``seed`` (``np.random.seed``, then one ``shuffle`` per user), the first
       int(n * test_ratio) to test, the next as many to valid, the rest to train;
    3. held-out items that no user has in train dropped; a user whose valid (then whose test) set
       becomes empty loses both held-out sets.

    The release counts one user and one item more than exist (``u_count + 1``); here n_users, n_items
    are the real counts. The per-user loop runs once, when the split is made. -> RatioSplit."""
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    counts = np.bincount(users)
    keep = counts[users] >= min_user
    users, items = users[keep], items[keep]
    _, first_u, users = np.unique(users, return_index=True, return_inverse=True)
    users = np.argsort(np.argsort(first_u, kind="stable"), kind="stable")[users]   # first-appearance ids
    _, first_i, items = np.unique(items, return_index=True, return_inverse=True)
    items = np.argsort(np.argsort(first_i, kind="stable"), kind="stable")[items]
    pairs = np.unique(np.stack([users, items], 1), axis=0, return_index=True)[1]
    users, items = users[np.sort(pairs)], items[np.sort(pairs)]     # repeats once, file order kept
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    bounds = np.r_[0, np.cumsum(np.bincount(users))]
    rng = np.random.RandomState(seed)
    parts = {"train": [], "valid": [], "test": []}
    for u in range(len(bounds) - 1):
        mine = items[bounds[u]:bounds[u + 1]].copy()
        rng.shuffle(mine)
        k = int(len(mine) * test_ratio)
        for name, chunk in (("test", mine[:k]), ("valid", mine[k:2 * k]), ("train", mine[2 * k:])):
            parts[name].append(np.stack([np.full(len(chunk), u), chunk], 1))
    train, valid, test = (np.concatenate(parts[n]) for n in ("train", "valid", "test"))
    seen = np.zeros(len(first_i), dtype=bool)
    seen[train[:, 1]] = True
    valid, test = valid[seen[valid[:, 1]]], test[seen[test[:, 1]]]
    n_users = len(first_u)
    both = (np.bincount(valid[:, 0], minlength=n_users) > 0) & (np.bincount(test[:, 0], minlength=n_users) > 0)
    return RatioSplit(n_users, len(first_i), train, valid[both[valid[:, 0]]], test[both[test[:, 0]]])
