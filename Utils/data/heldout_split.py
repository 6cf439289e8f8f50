"""Per-user held-out sets for the full-ranking protocols (docs/protocols.md): several valid and test items
per user, cut from the raw interactions by one of two rules.

- ``ratio`` (the KDs toolkit's, ``Utils.data.ratio_split.ratio_split``): each user's items, in the order
  ``order`` gives them, cut into train / valid / test at the shares ``ratios``, train first.
  ``order``: ``file`` (the file's order, the toolkit's), ``random`` (a uniform shuffle per user, seeded by
  the split seed) or ``time`` (oldest first, so the latest interactions are held out).
- ``hetcomp`` (the HetComp release's, ``Utils.data.ratio_split.hetcomp_split``): a seeded shuffle per user,
  the held-out shares taken first (valid and test equally large), held-out items unseen in training dropped.

``drop_unseen`` drops held-out items that no user has in train under ``ratio`` too (the hetcomp rule always
does). The split's fingerprint covers its train pairs and both held-out sets.
"""
import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from Utils.data.data_io import find_raw_file, read_raw
from Utils.data.ratio_split import hetcomp_split, ratio_split
from Utils.errors import InputError

RULES = ("ratio", "hetcomp")
ORDERS = ("file", "random", "time")
SPLIT_SEED_OFFSET = 7_000_001      # keeps the per-user shuffle's draws apart from every other seeded stream


def _sorted_pairs(users, items):
    order = np.lexsort((items, users))
    return np.asarray(users, dtype=np.int64)[order], np.asarray(items, dtype=np.int64)[order]


@dataclass
class HeldoutSplit:
    """Train pairs sorted by user, and the valid and test pairs (user, item), sorted by user then item.

    The training fields are those of the leave-one-out ``SplitData``, so every method trains on either."""
    name: str
    n_users: int
    n_items: int
    train_users: np.ndarray    # [n_train] int64, sorted
    train_items: np.ndarray    # [n_train] int64
    valid_users: np.ndarray    # [n_valid] int64, sorted
    valid_items: np.ndarray    # [n_valid] int64
    test_users: np.ndarray     # [n_test] int64, sorted
    test_items: np.ndarray     # [n_test] int64
    source: str
    fingerprint: str = field(default="")

    def __post_init__(self):
        self.train_users, self.train_items = _sorted_pairs(self.train_users, self.train_items)
        self.valid_users, self.valid_items = _sorted_pairs(self.valid_users, self.valid_items)
        self.test_users, self.test_items = _sorted_pairs(self.test_users, self.test_items)
        digest = hashlib.sha256(b"heldout")
        for array in (self.train_users, self.train_items, self.valid_users, self.valid_items, self.test_users,
                      self.test_items):
            digest.update(np.int64(len(array)).tobytes())
            digest.update(np.ascontiguousarray(array, dtype="<i8").tobytes())
        self.fingerprint = digest.hexdigest()[:16]

    @property
    def n_train(self):
        return len(self.train_users)

    def stats(self):
        return (f"{self.name}: {self.n_users} users, {self.n_items} items, {self.n_train} train / "
                f"{len(self.valid_users)} valid / {len(self.test_users)} test interactions, "
                f"{len(np.unique(self.valid_users))} valid users, {len(np.unique(self.test_users))} test users "
                f"({self.source})")


def parse_ratios(text):
    """'8,1,1' -> (8, 1, 1): three non-negative integers, a positive train share (InputError naming --ratios)."""
    try:
        ratios = tuple(int(part) for part in text.split(","))
    except (AttributeError, ValueError):
        ratios = ()
    if len(ratios) != 3 or min(ratios) < 0 or ratios[0] == 0 or ratios[1] + ratios[2] == 0:
        raise InputError(f"--ratios {text!r}: three integers train,valid,test such as 8,1,1 (train above 0, "
                         "something held out)")
    return ratios


def _integer_ids(tokens):
    """Raw tokens -> int64 ids in the order of the tokens' own values (numbers as numbers, else as text)."""
    tokens = np.asarray(tokens)
    if np.issubdtype(tokens.dtype, np.integer):
        return tokens.astype(np.int64)
    return np.unique(tokens, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _ordered(users, items, timestamps, order, seed, source):
    """The pairs in the order each user's items are cut in (the cut keeps this order within a user)."""
    if order == "file":
        return users, items
    if order == "time":
        if timestamps is None:
            raise InputError(f"--order time needs timestamps, and {source} has none")
        position = np.argsort(timestamps, kind="stable")
    else:
        position = np.argsort(np.random.Generator(np.random.PCG64(SPLIT_SEED_OFFSET + seed)).random(len(users)),
                              kind="stable")
    return users[position], items[position]


def drop_unseen_items(train, held):
    """held [n, 2] pairs without those whose item is in no train pair."""
    seen = np.zeros(int(max(train[:, 1].max(initial=-1), held[:, 1].max(initial=-1))) + 1, dtype=bool)
    seen[train[:, 1]] = True
    return held[seen[held[:, 1]]]


def load_heldout_split(data_path, dataset, rule="ratio", ratios=(8, 1, 1), order="file", seed=0, min_user_inter=5,
                       min_rating=None, drop_unseen=False):
    """The held-out split of ``data_path/dataset``'s raw interaction file by ``rule`` (module docstring)."""
    folder = os.path.join(data_path, dataset)
    if not os.path.isdir(folder):
        raise InputError(f"unknown dataset {dataset!r}: no folder {folder} (--data_path, --dataset)")
    raw_path = find_raw_file(folder, dataset)
    if raw_path is None:
        raise InputError(f"{folder} holds no raw interactions (users.dat, {dataset}.inter, interactions.tsv or "
                         "interactions.csv): the held-out protocols cut their sets from one")
    raw = read_raw(raw_path)
    keep = np.ones(len(raw.users), dtype=bool)
    if min_rating is not None:
        if raw.ratings is None:
            raise InputError(f"--min_rating needs a rating column, and {raw.source} has none")
        keep &= raw.ratings >= min_rating
    users, items = _integer_ids(raw.users)[keep], _integer_ids(raw.items)[keep]
    stamps = raw.timestamps[keep] if raw.timestamps is not None else None
    first = np.sort(np.unique(np.stack([users, items], 1), axis=0, return_index=True)[1])   # repeats once
    users, items = users[first], items[first]
    stamps = stamps[first] if stamps is not None else None
    name = os.path.basename(raw_path)
    if rule == "ratio":
        users, items = _ordered(users, items, stamps, order, seed, raw.source)
        split = ratio_split(users, items, ratios, min_user=min_user_inter, min_item=0)
        valid, test = split.valid, split.test
        if drop_unseen:
            valid, test = drop_unseen_items(split.train, valid), drop_unseen_items(split.train, test)
        how = f"ratio {':'.join(map(str, ratios))} of {name} in {order} order" + \
              (f", seed {seed}" if order == "random" else "") + (", unseen held-out items dropped" if drop_unseen else "")
    elif rule == "hetcomp":
        if order != "random" or ratios[1] != ratios[2] or not drop_unseen:
            raise InputError("--split hetcomp is the HetComp release's rule: --order random, equal valid and test "
                             "shares in --ratios, --drop_unseen 1")
        split = hetcomp_split(users, items, test_ratio=ratios[2] / sum(ratios), seed=seed, min_user=min_user_inter)
        valid, test = split.valid, split.test
        how = f"HetComp's rule ({':'.join(map(str, ratios))}) on {name}, seed {seed}"
    else:
        raise InputError(f"--split {rule!r}: one of loo, {', '.join(RULES)}")
    if len(split.train) == 0:
        raise InputError(f"{raw.source}: no user has at least {min_user_inter} interactions (--min_user_inter)")
    return HeldoutSplit(dataset, split.n_users, split.n_items, split.train[:, 0], split.train[:, 1], valid[:, 0],
                        valid[:, 1], test[:, 0], test[:, 1], source=how)
