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
import os
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from Utils.errors import InputError

RAW_FILES = ("users.dat", "{name}.inter", "interactions.tsv", "interactions.csv")
MAX_DIGITS = 15          # users.dat ids below 10^15 (int64 digit sums, far from overflow)


@dataclass
class RawInteractions:
    """User and item tokens of every interaction, in file order, with optional columns."""
    users: np.ndarray                  # [n] str or int tokens
    items: np.ndarray                  # [n]
    ratings: Optional[np.ndarray]      # [n] float or None
    timestamps: Optional[np.ndarray]   # [n] float or None
    source: str


def _read_bytes(path):
    try:
        return np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None


def _whitespace(data):
    """uint8 bytes -> bool mask of spaces, tabs, carriage returns and newlines."""
    return (data == ord(" ")) | (data == ord("\t")) | (data == ord("\r")) | (data == ord("\n"))


def read_users_dat(path):
    """CiteULike ``users.dat``: line u holds ``n`` then n item ids; the user id is the line number.

    Parsed as bytes with array operations (no loop over lines or ids): a token is a run of digits,
    its line the number of newlines before it, its value the dot product of its digits with powers
    of ten (tokens grouped by length); the first token of a line is its count. Working memory: a few
    bytes per byte of the file."""
    data = _read_bytes(path)
    space = _whitespace(data)
    newlines = np.flatnonzero(data == ord("\n"))

    def line_no(positions):            # 1-based line of byte positions
        return np.searchsorted(newlines, positions, side="right") + 1

    bad = np.flatnonzero(~space & ((data < ord("0")) | (data > ord("9"))))
    if len(bad):
        raise InputError(f"{path}, line {line_no(bad[0])}: expected integers 'n item_1 ... item_n'")
    edge = np.diff(space.astype(np.int8))              # -1: a token starts after, +1: one ends at
    starts = np.flatnonzero(edge == -1) + 1
    ends = np.flatnonzero(edge == 1) + 1
    if len(data) and not space[0]:
        starts = np.r_[0, starts]
    if len(data) and not space[-1]:
        ends = np.r_[ends, len(data)]
    lengths = ends - starts
    long = np.flatnonzero(lengths > MAX_DIGITS)
    if len(long):
        raise InputError(f"{path}, line {line_no(starts[long[0]])}: an id of more than {MAX_DIGITS} digits")
    values = np.zeros(len(starts), dtype=np.int64)
    for length in np.unique(lengths):                  # at most MAX_DIGITS groups
        group = np.flatnonzero(lengths == length)
        digits = data[starts[group, None] + np.arange(length)].astype(np.int64) - ord("0")
        values[group] = digits @ (10 ** np.arange(length - 1, -1, -1, dtype=np.int64))
    token_line = line_no(starts)
    lines, first = np.unique(token_line, return_index=True)
    follow = np.diff(np.r_[first, len(starts)]) - 1
    wrong = np.flatnonzero(values[first] != follow)
    if len(wrong):
        b = wrong[0]
        raise InputError(f"{path}, line {lines[b]}: count {values[first[b]]} but {follow[b]} items follow")
    is_item = np.ones(len(starts), dtype=bool)
    is_item[first] = False
    return RawInteractions(token_line[is_item] - 1, values[is_item], None, None, path)


def _read_frame(path, delimiter, skip_lines, **options):
    """pandas' C parser over the lines after the first ``skip_lines``; its failures as InputErrors
    (a line with more fields than the first names that line)."""
    try:
        return pd.read_csv(path, sep=delimiter, header=None, skiprows=skip_lines, engine="c", **options)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except pd.errors.ParserError as err:
        where = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if not where:
            raise InputError(f"{path}: cannot parse ({err})") from None
        expected, line, saw = where.groups()
        raise InputError(f"{path}, line {line}: {saw} fields where the file's first line has {expected}") from None
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None


def _read_fields(path, delimiter, skip_lines):
    """The lines after the first ``skip_lines`` -> (frame, each row's 1-based line number, whether every
    field was read as a number). Numbers are read as numbers in C (integers as int64, no Python object
    per field); any other file is read again as strings, blank lines dropped, for the checks."""
    frame = _read_frame(path, delimiter, skip_lines)
    numeric = len(frame.columns) and all(pd.api.types.is_numeric_dtype(d) for d in frame.dtypes)
    if numeric and not frame.isna().to_numpy().any():
        return frame, _nonblank_line_numbers(path, skip_lines, len(frame)), True
    frame = _read_frame(path, delimiter, skip_lines, dtype=str, na_filter=False, skip_blank_lines=False)
    line_numbers = np.arange(len(frame), dtype=np.int64) + 1 + skip_lines
    blank = np.ones(len(frame), dtype=bool)
    for column in frame.columns:
        blank &= (frame[column].str.strip() == "").to_numpy()
    return frame[~blank], line_numbers[~blank], False


def _nonblank_line_numbers(path, skip_lines, n_rows):
    """1-based numbers of the non-blank lines after the first ``skip_lines`` ([n_rows]): consecutive
    when the file has no blank line (checked by counting lines), else found from the bytes."""
    data = _read_bytes(path)
    newline = data == ord("\n")
    n_lines = int(newline.sum()) + int(len(data) > 0 and data[-1] != ord("\n"))
    if n_lines - skip_lines == n_rows:
        return np.arange(n_rows, dtype=np.int64) + 1 + skip_lines
    line_of_byte = np.cumsum(newline) - newline
    content = ~_whitespace(data)
    numbers = np.unique(line_of_byte[content]) + 1
    return numbers[numbers > skip_lines]


def _numbers(column, lines, path, name):
    if pd.api.types.is_numeric_dtype(column.dtype):     # read as numbers already
        return column.to_numpy(dtype=np.float64)
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(values) & (column.str.strip().str.lower() != "nan").to_numpy())
    if len(bad):
        raise InputError(f"{path}, line {lines[bad[0]]}: {name} {column.iloc[bad[0]]!r} is not a number")
    return values


def _table(path, frame, lines, numeric, columns, delimiter):
    """Collect user/item/rating/timestamp columns of ``frame`` given a column-index map."""
    need = max(columns.values()) + 1
    if frame.shape[1] < need:
        raise InputError(f"{path}, line {lines[0] if len(lines) else 1}: expected at least {need} "
                         f"{'tab' if delimiter == chr(9) else 'comma'}-separated fields, got {frame.shape[1]}")
    if numeric:                                         # numeric ids: int64 tokens (floats as they are)
        users, items = (frame[columns[c]].to_numpy() for c in ("user", "item"))
    else:
        users, items = (frame[columns[c]].str.strip() for c in ("user", "item"))
        empty = np.flatnonzero(((users == "") | (items == "")).to_numpy())
        if len(empty):
            raise InputError(f"{path}, line {lines[empty[0]]}: empty user or item id")
        users, items = users.to_numpy(dtype=str), items.to_numpy(dtype=str)
    return RawInteractions(users, items,
                           _numbers(frame[columns["rating"]], lines, path, "rating") if "rating" in columns else None,
                           _numbers(frame[columns["timestamp"]], lines, path, "timestamp")
                           if "timestamp" in columns else None, path)


def _first_line(path):
    try:
        with open(path, newline="") as f:
            return f.readline()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None


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
    first = _first_line(path).rstrip("\r\n").split(delimiter)
    if not first or first == [""]:
        raise InputError(f"{path}: the file is empty")
    has_header = first[0].strip().lower().startswith("user")
    frame, lines, numeric = _read_fields(path, delimiter, 1 if has_header else 0)
    if has_header:
        columns = _columns_from_names(first, path)
    else:
        columns = {"user": 0, "item": 1}
        if frame.shape[1] >= 3:
            columns["rating"] = 2
        if frame.shape[1] >= 4:
            columns["timestamp"] = 3
    return _table(path, frame, lines, numeric, columns, delimiter)


def read_recbole_inter(path):
    """RecBole atomic ``.inter``: tab-separated, header of ``name:type`` fields (user_id, item_id, ...)."""
    header = _first_line(path).rstrip("\r\n").split("\t")
    if header == [""]:
        raise InputError(f"{path}: the file is empty")
    if not all(":" in field for field in header):
        raise InputError(f"{path}, line 1: a RecBole header has typed fields such as 'user_id:token'")
    names = [field.split(":", 1)[0] for field in header]
    frame, lines, numeric = _read_fields(path, "\t", 1)
    return _table(path, frame, lines, numeric, _columns_from_names(names, path), "\t")


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
    if _first_line(path).strip().split("\t") != ["user", "item"]:
        raise InputError(f"{path}, line 1: expected the header 'user<TAB>item'")
    frame, lines, _ = _read_fields(path, "\t", 1)
    if not len(frame):
        raise InputError(f"{path}: no interactions after the header")
    if frame.shape[1] != 2:
        raise InputError(f"{path}, line {lines[0]}: expected two integer ids 'user<TAB>item', "
                         f"got {frame.shape[1]} field(s)")
    ids = []
    for column in (0, 1):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.isnan(values) | (values != np.round(values)))
        if len(bad):
            raise InputError(f"{path}, line {lines[bad[0]]}: expected two integer ids 'user<TAB>item', "
                             f"got {frame[column].iloc[bad[0]]!r}")
        ids.append(values.astype(np.int64))
    array = np.stack(ids, axis=1)
    if (array < 0).any():
        bad = int(np.nonzero((array < 0).any(1))[0][0])
        raise InputError(f"{path}, line {lines[bad]}: ids must be non-negative")
    return array[:, 0], array[:, 1], lines
