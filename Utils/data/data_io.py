"""Readers for the interaction formats a dataset folder may hold.

Every reader returns a :class:`RawInteractions` in file order and raises :class:`InputError`
naming the file and line of anything it cannot read.

Supported files in ``<data_path>/<dataset>/``:
  - ``users.dat``: CiteULike adjacency lines, line u = ``n item_1 ... item_n`` (user = line number);
  - ``<dataset>.inter``: a RecBole atomic file, tab-separated, typed header such as
    ``user_id:token  item_id:token  rating:float  timestamp:float``;
  - ``interactions.tsv`` / ``interactions.csv``: columns user, item, optional rating and timestamp;
    an optional header whose first field starts with ``user``;
  - ``train.tsv``, ``valid.tsv``, ``test.tsv``: a fixed leave-one-out split (header ``user<TAB>item``,
    integer ids already contiguous), see :func:`read_split_file`.
"""
import csv
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from Utils.errors import InputError

RAW_FILES = ("users.dat", "{name}.inter", "interactions.tsv", "interactions.csv")


@dataclass
class RawInteractions:
    """User and item tokens of every interaction, in file order, with optional columns."""
    users: np.ndarray                  # [n] str or int tokens
    items: np.ndarray                  # [n]
    ratings: Optional[np.ndarray]      # [n] float or None
    timestamps: Optional[np.ndarray]   # [n] float or None
    source: str


def _open(path):
    try:
        return open(path, newline="")
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None


def read_users_dat(path):
    """CiteULike ``users.dat``: line u holds ``n`` then n item ids; the user id is the line number."""
    users, items = [], []
    with _open(path) as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                values = [int(x) for x in fields]
            except ValueError:
                raise InputError(f"{path}, line {line_no}: expected integers 'n item_1 ... item_n'") from None
            count, row = values[0], values[1:]
            if count != len(row):
                raise InputError(f"{path}, line {line_no}: count {count} but {len(row)} items follow")
            users.extend([line_no - 1] * count)
            items.extend(row)
    return RawInteractions(np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64),
                           None, None, path)


def _float(value, path, line_no, column):
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{path}, line {line_no}: {column} {value!r} is not a number") from None


def _read_table(path, delimiter, columns, rows, first_line_no):
    """Collect user/item/rating/timestamp columns from ``rows`` given a column-index map."""
    users, items, ratings, stamps = [], [], [], []
    need = max(columns.values()) + 1
    for line_no, row in enumerate(rows, start=first_line_no):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) < need:
            raise InputError(f"{path}, line {line_no}: expected at least {need} "
                             f"{'tab' if delimiter == chr(9) else 'comma'}-separated fields, got {len(row)}")
        user, item = row[columns["user"]].strip(), row[columns["item"]].strip()
        if not user or not item:
            raise InputError(f"{path}, line {line_no}: empty user or item id")
        users.append(user)
        items.append(item)
        if "rating" in columns:
            ratings.append(_float(row[columns["rating"]], path, line_no, "rating"))
        if "timestamp" in columns:
            stamps.append(_float(row[columns["timestamp"]], path, line_no, "timestamp"))
    return RawInteractions(np.asarray(users), np.asarray(items),
                           np.asarray(ratings) if "rating" in columns else None,
                           np.asarray(stamps) if "timestamp" in columns else None, path)


_COLUMN_NAMES = {"user": "user", "user_id": "user", "item": "item", "item_id": "item",
                 "rating": "rating", "timestamp": "timestamp", "time": "timestamp"}


def _columns_from_names(names, path):
    columns = {}
    for index, name in enumerate(names):
        role = _COLUMN_NAMES.get(name.strip().lower())
        if role and role not in columns:
            columns[role] = index
    if "user" not in columns or "item" not in columns:
        raise InputError(f"{path}, line 1: header must name a user and an item column, got {names}")
    return columns


def read_interaction_table(path):
    """``interactions.tsv`` / ``.csv``: user, item[, rating[, timestamp]]; header optional."""
    delimiter = "," if path.endswith(".csv") else "\t"
    with _open(path) as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    if not rows:
        raise InputError(f"{path}: the file is empty")
    if rows[0] and rows[0][0].strip().lower().startswith("user"):
        return _read_table(path, delimiter, _columns_from_names(rows[0], path), rows[1:], 2)
    width = len(rows[0])
    columns = {"user": 0, "item": 1}
    if width >= 3:
        columns["rating"] = 2
    if width >= 4:
        columns["timestamp"] = 3
    return _read_table(path, delimiter, columns, rows, 1)


def read_recbole_inter(path):
    """RecBole atomic ``.inter``: tab-separated, header of ``name:type`` fields (user_id, item_id, ...)."""
    with _open(path) as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows:
        raise InputError(f"{path}: the file is empty")
    names = [field.split(":", 1)[0] for field in rows[0]]
    if not all(":" in field for field in rows[0]):
        raise InputError(f"{path}, line 1: a RecBole header has typed fields such as 'user_id:token'")
    return _read_table(path, "\t", _columns_from_names(names, path), rows[1:], 2)


def find_raw_file(folder, name):
    """The first raw interaction file present in ``folder``, or None."""
    for pattern in RAW_FILES:
        path = os.path.join(folder, pattern.format(name=name))
        if os.path.isfile(path):
            return path
    return None


def read_raw(path):
    """Dispatch on the file name."""
    if path.endswith("users.dat"):
        return read_users_dat(path)
    if path.endswith(".inter"):
        return read_recbole_inter(path)
    return read_interaction_table(path)


def read_split_file(path):
    """A fixed split file: header ``user<TAB>item``, then integer pairs.

    -> int64 arrays (users, items, line numbers); a line with other than two fields, or none at all
    after the header, is an InputError naming the file (and line)."""
    pairs, line_numbers = [], []
    with _open(path) as f:
        header = f.readline()
        if header.strip().split("\t") != ["user", "item"]:
            raise InputError(f"{path}, line 1: expected the header 'user<TAB>item'")
        for line_no, line in enumerate(f, start=2):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            try:
                if len(fields) != 2:
                    raise ValueError
                pairs.append((int(fields[0]), int(fields[1])))
            except ValueError:
                raise InputError(f"{path}, line {line_no}: expected two integer ids 'user<TAB>item', "
                                 f"got {len(fields)} field(s)") from None
            line_numbers.append(line_no)
    if not pairs:
        raise InputError(f"{path}: no interactions after the header")
    array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if (array < 0).any():
        bad = int(np.nonzero((array < 0).any(1))[0][0])
        raise InputError(f"{path}, line {line_numbers[bad]}: ids must be non-negative")
    return array[:, 0], array[:, 1], np.asarray(line_numbers, dtype=np.int64)
