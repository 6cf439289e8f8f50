import os

import numpy as np
import pytest

from Utils.data.candidates import checksum, load_or_sample_candidates, sample_candidates
from Utils.data.data_io import read_raw, read_split_file, read_users_dat
from Utils.data.dataset import leave_one_out, load_split, prepare_interactions
from Utils.errors import InputError

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
CITEULIKE_SEED0_CANDIDATES_SHA256 = "75351bc2b84cd0fbfe04f2971c3acd3b49f28cb12028b22266b33077243c3a47"


@pytest.fixture(scope="module")
def citeulike():
    return load_split(DATA, "citeULike", 0)


def test_paper_filter_reproduces_the_shipped_split(citeulike):
    inter = prepare_interactions(read_users_dat(os.path.join(DATA, "citeULike", "users.dat")), 5)
    assert (inter.n_users, inter.n_items, len(inter.users)) == (5219, 25181, 125580)
    raw_pairs = set(zip(inter.users.tolist(), inter.items.tolist()))
    s = citeulike
    split_pairs = set(zip(s.train_users.tolist(), s.train_items.tolist()))
    split_pairs |= set(enumerate(s.valid_item.tolist())) | set(enumerate(s.test_item.tolist()))
    assert raw_pairs == split_pairs
    assert (s.n_users, s.n_items, s.n_train) == (5219, 25181, 115142)


def test_generated_split_is_leave_one_out(citeulike):
    s = load_split(DATA, "citeULike", 1)
    assert s.fingerprint != citeulike.fingerprint
    assert (s.n_users, s.n_items, s.n_train) == (5219, 25181, 115142)
    assert (s.valid_item != s.test_item).all()
    train = set(zip(s.train_users.tolist(), s.train_items.tolist()))
    assert not any((u, i) in train for u, i in enumerate(s.test_item.tolist()))
    assert not any((u, i) in train for u, i in enumerate(s.valid_item.tolist()))
    assert load_split(DATA, "citeULike", 1).fingerprint == s.fingerprint     # seeded


def test_candidates_are_pinned_distinct_and_unobserved(citeulike, tmp_path):
    cands = load_or_sample_candidates(citeulike, 0, 499, str(tmp_path))
    assert checksum(cands) == CITEULIKE_SEED0_CANDIDATES_SHA256
    assert np.array_equal(load_or_sample_candidates(citeulike, 0, 499, str(tmp_path)), cands)   # from cache
    assert cands.shape == (5219, 499)
    assert all(len(set(row)) == 499 for row in cands[:300])
    s = citeulike
    observed = set(zip(s.train_users.tolist(), s.train_items.tolist()))
    observed |= set(enumerate(s.valid_item.tolist())) | set(enumerate(s.test_item.tolist()))
    assert not any((u, int(i)) in observed for u in range(0, 5219, 7) for i in cands[u])


def test_candidates_are_the_same_in_chunks_of_users_as_at_once(citeulike):
    at_once = sample_candidates(citeulike, 0, 499, chunk_users=None)
    assert checksum(at_once) == CITEULIKE_SEED0_CANDIDATES_SHA256
    assert np.array_equal(sample_candidates(citeulike, 0, 499, chunk_users=1000), at_once)


def test_tampered_candidate_cache_is_refused(citeulike, tmp_path):
    load_or_sample_candidates(citeulike, 0, 499, str(tmp_path))
    (path,) = list((tmp_path / "citeULike").glob("candidates_*"))
    stored = dict(np.load(path))
    stored["candidates"][0, 0] += 1
    with open(path, "wb") as f:
        np.savez(f, **stored)
    with pytest.raises(InputError, match="does not match"):
        load_or_sample_candidates(citeulike, 0, 499, str(tmp_path))


def test_readers_agree_and_map_string_ids(tmp_path):
    (tmp_path / "a.tsv").write_text("user\titem\trating\ttimestamp\nu1\tx\t5\t10\nu1\ty\t4\t11\nu2\tx\t3\t12\n")
    (tmp_path / "b.csv").write_text("u1,x\nu1,y\nu2,x\n")
    (tmp_path / "c.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\nu1\tx\t1\nu1\ty\t2\nu2\tx\t3\n")
    for name in ("a.tsv", "b.csv", "c.inter"):
        raw = read_raw(str(tmp_path / name))
        assert raw.users.tolist() == ["u1", "u1", "u2"] and raw.items.tolist() == ["x", "y", "x"]
    assert read_raw(str(tmp_path / "a.tsv")).timestamps.tolist() == [10, 11, 12]


def test_filter_dedupes_and_renumbers_in_first_appearance_order(tmp_path):
    path = tmp_path / "interactions.csv"
    rows = ["z,b", "z,a", "z,b", "y,c", "z,c", "z,d", "z,e", "w,a"]   # z: b a c d e (dup b) ; y, w: too few
    path.write_text("\n".join(rows) + "\n")
    inter = prepare_interactions(read_raw(str(path)), min_user_inter=5)
    assert inter.n_users == 1 and inter.n_items == 5
    assert inter.items.tolist() == [0, 1, 2, 3, 4]          # b a c d e in order of appearance


def test_time_split_holds_out_the_latest(tmp_path):
    path = tmp_path / "interactions.tsv"
    path.write_text("".join(f"u{u}\ti{i}\t1\t{i}\n" for u in range(3) for i in range(6)))
    inter = prepare_interactions(read_raw(str(path)), 5)
    _, _, valid, test = leave_one_out(inter, seed=3, by="time")
    assert test.tolist() == [5, 5, 5] and valid.tolist() == [4, 4, 4]


@pytest.mark.parametrize("content, message", [
    ("3 1 2\n", "users.dat, line 1: count 3 but 2 items follow"),
    ("2 1 2\n2 1 x\n", "users.dat, line 2: expected integers"),
])
def test_users_dat_errors_name_file_and_line(tmp_path, content, message):
    (tmp_path / "users.dat").write_text(content)
    with pytest.raises(InputError, match=message):
        read_users_dat(str(tmp_path / "users.dat"))


def test_split_file_errors(tmp_path):
    (tmp_path / "train.tsv").write_text("user\titem\n0\t1\n0\tfoo\n")
    with pytest.raises(InputError, match=r"train.tsv, line 3"):
        read_split_file(str(tmp_path / "train.tsv"))


def test_unknown_or_empty_datasets(tmp_path):
    with pytest.raises(InputError, match="unknown dataset"):
        load_split(str(tmp_path), "nothing")
    (tmp_path / "few").mkdir()
    (tmp_path / "few" / "interactions.tsv").write_text("a\tb\na\tc\n")
    with pytest.raises(InputError, match="no user has at least 5"):
        load_split(str(tmp_path), "few")


def test_candidates_need_enough_items(citeulike):
    with pytest.raises(InputError, match="--num_candidates"):
        sample_candidates(citeulike, 0, num_candidates=25181)


def slow_users_dat(text):
    """Line by line: the obviously correct reading of users.dat."""
    users, items = [], []
    for index, line in enumerate(text.split("\n")):
        fields = [int(x) for x in line.split()]
        if fields:
            assert fields[0] == len(fields) - 1
            users += [index] * fields[0]
            items += fields[1:]
    return users, items


def test_users_dat_byte_parser_matches_a_line_by_line_reading(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(300):
        row = rng.integers(0, 10 ** rng.integers(1, 10), size=rng.integers(0, 12))
        sep = " " if rng.random() < 0.7 else " \t "
        lines.append("" if rng.random() < 0.1 else sep.join(map(str, [len(row), *row])) + (" " if rng.random() < 0.2 else ""))
    text = "\n".join(lines) + ("\n" if rng.random() < 0.5 else "")
    (tmp_path / "users.dat").write_text(text)
    raw = read_users_dat(str(tmp_path / "users.dat"))
    users, items = slow_users_dat(text)
    assert raw.users.tolist() == users and raw.items.tolist() == items
    assert raw.users.dtype == np.int64 and raw.items.dtype == np.int64


def test_numeric_files_are_read_as_numbers_in_the_same_first_appearance_order(tmp_path):
    rows = [(7, 30), (7, 10), (3, 30), (7, 20), (3, 10)]
    (tmp_path / "n.tsv").write_text("".join(f"{u}\t{i}\t{u + i}\n" for u, i in rows))
    (tmp_path / "s.tsv").write_text("".join(f"u{u}\ti{i}\t{u + i}\n" for u, i in rows))
    numeric, strings = read_raw(str(tmp_path / "n.tsv")), read_raw(str(tmp_path / "s.tsv"))
    assert numeric.users.dtype == np.int64 and numeric.users.tolist() == [7, 7, 3, 7, 3]
    assert numeric.ratings.tolist() == strings.ratings.tolist() == [37, 17, 33, 27, 13]
    a, b = (prepare_interactions(r, min_user_inter=1) for r in (numeric, strings))
    assert a.users.tolist() == b.users.tolist() and a.items.tolist() == b.items.tolist()


@pytest.mark.parametrize("name, content, message", [
    ("interactions.tsv", "a\tb\n\n\nc\td\te\n", r"interactions.tsv, line 4: 3 fields where the file's first line has 2"),
    ("interactions.tsv", "a\tb\t1\n\nc\td\tx\n", r"interactions.tsv, line 3: rating 'x' is not a number"),
    ("interactions.csv", "user,item\nu,i\n,j\n", r"interactions.csv, line 3: empty user or item id"),
    ("train.tsv", "user\titem\n0\t1\n\n0\t2.5\n", r"train.tsv, line 4: expected two integer ids"),
    ("train.tsv", "user\titem\n0\t1\n\n-1\t2\n", r"train.tsv, line 4: ids must be non-negative"),
])
def test_reader_errors_name_the_file_line_past_blank_lines(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    reader = read_split_file if name == "train.tsv" else read_raw
    with pytest.raises(InputError, match=message):
        reader(str(tmp_path / name))


def test_split_file_line_numbers_skip_blank_lines(tmp_path):
    (tmp_path / "train.tsv").write_text("user\titem\n0\t1\n\n  \n1\t2\n")
    users, items, lines = read_split_file(str(tmp_path / "train.tsv"))
    assert users.tolist() == [0, 1] and items.tolist() == [1, 2] and lines.tolist() == [2, 5]
