"""Load a dataset folder into a leave-one-out split (docs/methods.md, Protocol).

The paper's preprocessing: keep users with at least ``min_user_inter`` distinct items, then number
users and items in order of first appearance (users in file order, items as first met while reading
the kept users' interactions). For CiteULike this reproduces the shipped split's id space exactly.
"""
import hashlib
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from Utils.data.data_io import find_raw_file, read_raw, read_split_file
from Utils.errors import InputError

NO_ITEM = -1  # a user without a valid or test item


def first_appearance_ids(tokens):
    """Map tokens to 0..n-1 in order of first appearance. [n] tokens -> ([n] int64 ids, n)."""
    _, first, inverse = np.unique(tokens, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)], len(first)


@dataclass
class Interactions:
    """Deduplicated, filtered and renumbered interactions in file order."""
    users: np.ndarray          # [n] int64
    items: np.ndarray          # [n] int64
    timestamps: np.ndarray     # [n] float64 or None
    n_users: int
    n_items: int


def prepare_interactions(raw, min_user_inter=5, min_rating=None):
    """Filter (rating, users with >= min_user_inter distinct items), dedupe and renumber ``raw``."""
    keep = np.ones(len(raw.users), dtype=bool)
    if min_rating is not None:
        if raw.ratings is None:
            raise InputError(f"--min_rating needs a rating column, and {raw.source} has none")
        keep &= raw.ratings >= min_rating
    users, _ = first_appearance_ids(raw.users[keep])
    items, n_items = first_appearance_ids(raw.items[keep])
    stamps = raw.timestamps[keep] if raw.timestamps is not None else None
    _, first = np.unique(users * n_items + items, return_index=True)   # duplicates count once
    first.sort()
    users, items = users[first], items[first]
    stamps = stamps[first] if stamps is not None else None
    counts = np.bincount(users)
    kept = counts[users] >= min_user_inter
    if not kept.any():
        raise InputError(f"{raw.source}: no user has at least {min_user_inter} interactions "
                         f"(--min_user_inter)")
    users, n_users = first_appearance_ids(users[kept])
    items, n_items = first_appearance_ids(items[kept])
    return Interactions(users, items, stamps[kept] if stamps is not None else None, n_users, n_items)


def leave_one_out(inter, seed, by="random"):
    """Hold out one test and one valid item per user (docs/methods.md, Protocol).

    ``by="random"`` draws them uniformly (the paper); ``by="time"`` takes the latest and the second
    latest interaction (random tie-break). Returns (train_users, train_items, valid_item[u], test_item[u]).
    """
    n = len(inter.users)
    key = np.random.Generator(np.random.PCG64(seed)).random(n)
    if by == "time":
        if inter.timestamps is None:
            raise InputError("--split_by time needs timestamps, and this dataset has none")
        order = np.lexsort((key, -inter.timestamps, inter.users))
    else:
        order = np.lexsort((key, inter.users))
    users = inter.users[order]
    starts = np.searchsorted(users, np.arange(inter.n_users))
    position = np.arange(n) - starts[users]
    if np.bincount(users, minlength=inter.n_users).min() < 3:
        raise InputError("leave-one-out needs at least 3 interactions per user (--min_user_inter >= 3)")
    valid_item = np.full(inter.n_users, NO_ITEM, dtype=np.int64)
    test_item = np.full(inter.n_users, NO_ITEM, dtype=np.int64)
    test_item[users[position == 0]] = inter.items[order][position == 0]
    valid_item[users[position == 1]] = inter.items[order][position == 1]
    rest = position >= 2
    return users[rest], inter.items[order][rest], valid_item, test_item


@dataclass
class SplitData:
    """A leave-one-out split: train pairs sorted by user, one valid and one test item per user."""
    name: str
    n_users: int
    n_items: int
    train_users: np.ndarray    # [n_train] int64, sorted
    train_items: np.ndarray    # [n_train] int64
    valid_item: np.ndarray     # [n_users] int64, NO_ITEM where absent
    test_item: np.ndarray      # [n_users] int64, NO_ITEM where absent
    source: str                # how the split was obtained
    fingerprint: str = field(default="")

    def __post_init__(self):
        order = np.lexsort((self.train_items, self.train_users))
        self.train_users, self.train_items = self.train_users[order], self.train_items[order]
        digest = hashlib.sha256()
        for array in (self.train_users, self.train_items, self.valid_item, self.test_item):
            digest.update(np.ascontiguousarray(array, dtype="<i8").tobytes())
        self.fingerprint = digest.hexdigest()[:16]

    @property
    def n_train(self):
        return len(self.train_users)

    def stats(self):
        return (f"{self.name}: {self.n_users} users, {self.n_items} items, {self.n_train} train "
                f"interactions, {int((self.test_item >= 0).sum())} test users ({self.source})")


def _first_repeat(keys):
    """Index of the first entry of ``keys`` that repeats an earlier one, or None."""
    _, first = np.unique(keys, return_index=True)
    repeated = np.setdiff1d(np.arange(len(keys)), first)
    return int(repeated.min()) if len(repeated) else None


def _load_fixed_split(folder, name):
    """Read train/valid/test.tsv and check they form a leave-one-out split: no repeated (user, item)
    row, at most one valid and one test item per user, every held-out user also in train, and no
    held-out item among the user's train items (each violation: one line naming file and line)."""
    paths = {part: os.path.join(folder, f"{part}.tsv") for part in ("train", "valid", "test")}
    parts = {part: read_split_file(path) for part, path in paths.items()}
    parts, n_users, n_items, renumbered = _contiguous_ids(parts)
    train_users, train_items, train_lines = parts["train"]
    repeat = _first_repeat(train_users * n_items + train_items)
    if repeat is not None:
        raise InputError(f"{paths['train']}, line {train_lines[repeat]}: user {train_users[repeat]} "
                         f"item {train_items[repeat]} appears twice")
    in_train = np.zeros(n_users, dtype=bool)
    in_train[train_users] = True
    train_keys = np.sort(train_users * n_items + train_items)
    held = {}
    for part in ("valid", "test"):
        users, items, lines = parts[part]
        repeat = _first_repeat(users)
        if repeat is not None:
            raise InputError(f"{paths[part]}, line {lines[repeat]}: user {users[repeat]} appears twice "
                             "(leave-one-out holds out one item per user)")
        absent = np.nonzero(~in_train[users])[0]
        if len(absent):
            raise InputError(f"{paths[part]}, line {lines[absent[0]]}: user {users[absent[0]]} has no "
                             "training interactions")
        keys = users * n_items + items
        position = np.minimum(np.searchsorted(train_keys, keys), len(train_keys) - 1)
        also_train = np.nonzero(train_keys[position] == keys)[0]
        if len(also_train):
            b = also_train[0]
            raise InputError(f"{paths[part]}, line {lines[b]}: user {users[b]} item {items[b]} is also "
                             "in train.tsv")
        held[part] = np.full(n_users, NO_ITEM, dtype=np.int64)
        held[part][users] = items
    same = np.nonzero((held["valid"] >= 0) & (held["valid"] == held["test"]))[0]
    if len(same):
        raise InputError(f"{paths['test']}: user {same[0]} has the same valid and test item")
    source = "fixed split train/valid/test.tsv" + (f", {renumbered}" if renumbered else "")
    return SplitData(name, n_users, n_items, train_users, train_items, held["valid"], held["test"], source=source)


def _contiguous_ids(parts):
    """{part: (users, items, lines)} with ids 0..n-1: ids that skip numbers (an item 100000 among 200
    items) are renumbered in their order, said in one note on stderr (an id space with holes would draw
    evaluation candidates and negatives among items nobody has). -> (parts, n_users, n_items, note or '')."""
    notes, columns = [], {}
    for column, what in ((0, "user"), (1, "item")):
        ids = np.unique(np.concatenate([parts[p][column] for p in parts]))
        columns[column] = ids
        if ids[-1] + 1 != len(ids):
            notes.append(f"{what} ids renumbered 0..{len(ids) - 1} ({len(ids)} distinct ids up to {ids[-1]})")
    if notes:
        parts = {p: tuple(np.searchsorted(columns[c], parts[p][c]) if c < 2 else parts[p][c] for c in range(3))
                 for p in parts}
        print(f"note: {', '.join(notes)}; ranks, lists and checkpoints use the new ids", file=sys.stderr)
    return parts, len(columns[0]), len(columns[1]), ", ".join(notes)


def load_split(data_path, dataset, loo_seed=0, min_user_inter=5, split_by="random", min_rating=None):
    """The split for ``--LOO_seed``: the shipped files for seed 0 when present, else generated."""
    folder = os.path.join(data_path, dataset)
    if not os.path.isdir(folder):
        raise InputError(f"unknown dataset {dataset!r}: no folder {folder} (--data_path, --dataset)")
    has_fixed = all(os.path.isfile(os.path.join(folder, f"{p}.tsv")) for p in ("train", "valid", "test"))
    if has_fixed and loo_seed == 0 and split_by == "random" and min_rating is None:
        return _load_fixed_split(folder, dataset)
    raw_path = find_raw_file(folder, dataset)
    if raw_path is None:
        hint = " (the fixed split serves --LOO_seed 0 only)" if has_fixed else ""
        raise InputError(f"{folder} holds no raw interactions (users.dat, {dataset}.inter, "
                         f"interactions.tsv or interactions.csv){hint}")
    inter = prepare_interactions(read_raw(raw_path), min_user_inter, min_rating)
    train_users, train_items, valid_item, test_item = leave_one_out(inter, loo_seed, split_by)
    return SplitData(dataset, inter.n_users, inter.n_items, train_users, train_items, valid_item,
                     test_item, source=f"leave-one-out of {os.path.basename(raw_path)}, seed {loo_seed}, "
                                       f"by {split_by}")
