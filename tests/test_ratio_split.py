"""The KDs toolkit's per-user 8:1:1 split (Utils/data/ratio_split.py) against a line-by-line
transcription of its preprocessing rule, and its invariants."""
import os

import numpy as np
import pytest

from Utils.data.heldout_split import load_heldout_split
from Utils.data.ratio_split import ratio_split


def transcription(lines, ratios=(8, 1, 1), low_user=5, low_item=5):
    """The toolkit's steps with plain lists: pairs in file order, alternate user / item filters until
    stable, ids renumbered in sorted order, each user's pairs cut in file order."""
    pairs = [(u, i) for u, line in enumerate(lines) for i in line]
    size = -1
    while size != len(pairs):
        size = len(pairs)
        per_user = {}
        for u, _ in pairs:
            per_user[u] = per_user.get(u, 0) + 1
        pairs = [(u, i) for u, i in pairs if per_user[u] >= low_user]
        per_item = {}
        for _, i in pairs:
            per_item[i] = per_item.get(i, 0) + 1
        pairs = [(u, i) for u, i in pairs if per_item[i] >= low_item]
    users = sorted({u for u, _ in pairs})
    items = sorted({i for _, i in pairs})
    pairs = [(users.index(u), items.index(i)) for u, i in pairs]
    markers = np.cumsum(ratios)
    train, valid, test = [], [], []
    for u in range(len(users)):
        group = [p for p in pairs if p[0] == u]
        left = max(int(np.floor(markers[0] * len(group) / markers[-1])), 1)
        right = int(np.floor(markers[1] * len(group) / markers[-1]))
        train += group[:left]
        if left < right:
            valid += group[left:right]
        if right < len(group):
            test += group[right:]
    return len(users), len(items), train, valid, test


def random_lines(seed, n_users=60, n_items=40):
    rng = np.random.default_rng(seed)
    return [list(rng.choice(n_items, size=rng.integers(0, 25), replace=False)) for _ in range(n_users)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_the_transcription_of_the_toolkit_rule(seed):
    lines = random_lines(seed)
    users = np.array([u for u, line in enumerate(lines) for _ in line])
    items = np.array([i for line in lines for i in line])
    got = ratio_split(users, items, min_item=5)
    n_users, n_items, train, valid, test = transcription(lines)
    assert (got.n_users, got.n_items) == (n_users, n_items) and n_users > 10
    for ours, theirs in ((got.train, train), (got.valid, valid), (got.test, test)):
        assert ours.tolist() == [list(p) for p in theirs]


def test_parts_are_disjoint_cover_every_kept_pair_and_respect_the_minimums():
    lines = random_lines(5, n_users=200, n_items=60)
    users = np.array([u for u, line in enumerate(lines) for _ in line])
    items = np.array([i for line in lines for i in line])
    s = ratio_split(users, items, min_item=5)
    every = np.concatenate([s.train, s.valid, s.test])
    assert len({tuple(p) for p in every.tolist()}) == len(every)
    assert (np.bincount(every[:, 0]) >= 5).all() and (np.bincount(every[:, 1]) >= 5).all()
    per_user = np.bincount(every[:, 0])
    assert (np.bincount(s.train[:, 0], minlength=s.n_users) == np.maximum(per_user * 8 // 10, 1)).all()
    again = ratio_split(users, items, min_item=5)
    assert all((x == y).all() for x, y in zip((s.train, s.valid, s.test), (again.train, again.valid, again.test)))


def test_citeulike_gives_the_counts_the_toolkit_ships():
    import os
    from Utils.data.data_io import read_users_dat
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    raw = read_users_dat(os.path.join(root, "data", "citeULike", "users.dat"))
    s = ratio_split(raw.users, raw.items)
    assert (s.n_users, s.n_items, len(s.train), len(s.valid), len(s.test)) == (5219, 25181, 98405, 12451, 14724)


def hetcomp_transcription(lines, test_ratio=0.2, seed=0):
    """The HetComp release's load_data with dicts, as its code reads."""
    np.random.seed(seed)
    count_u, count_i = {}, {}
    raw = [(u, i) for u, line in enumerate(lines) for i in line]
    for u, i in raw:
        count_u[u] = count_u.get(u, 0) + 1
        count_i[i] = count_i.get(i, 0) + 1
    u_ids, i_ids, total = {}, {}, {}
    for u, i in raw:
        if count_u[u] < 5:
            continue
        uu = u_ids.setdefault(u, len(u_ids))
        ii = i_ids.setdefault(i, len(i_ids))
        total.setdefault(uu, {})[ii] = 1
    train, valid, test = {}, {}, {}
    for u in total:
        its = list(total[u].keys())
        np.random.shuffle(its)
        k = int(len(its) * test_ratio)
        test[u], valid[u], train[u] = its[:k], its[k:2 * k], its[2 * k:]
    seen = {i for u in train for i in train[u]}
    for u in list(valid):
        valid[u] = [i for i in valid[u] if i in seen]
        if not valid[u]:
            del valid[u], test[u]
    for u in list(test):
        test[u] = [i for i in test[u] if i in seen]
        if not test[u]:
            del test[u], valid[u]
    flat = lambda d: [[u, i] for u in d for i in d[u]]   # noqa: E731
    return len(u_ids), len(i_ids), flat(train), flat(valid), flat(test)


@pytest.mark.parametrize("seed", [0, 3])
def test_hetcomp_split_equals_the_transcription_of_the_release(seed):
    from Utils.data.ratio_split import hetcomp_split
    lines = random_lines(seed, n_users=80, n_items=120)
    lines[3] = lines[3] + lines[3][:2]                       # a repeated item: counted once
    users = np.array([u for u, line in enumerate(lines) for _ in line])
    items = np.array([i for line in lines for i in line])
    got = hetcomp_split(users, items, seed=seed)
    n_users, n_items, train, valid, test = hetcomp_transcription(lines, seed=seed)
    assert (got.n_users, got.n_items) == (n_users, n_items)
    assert got.train.tolist() == train and got.valid.tolist() == valid and got.test.tolist() == test
    trained = set(got.train[:, 1].tolist())
    assert all(i in trained for i in got.valid[:, 1].tolist() + got.test[:, 1].tolist())
    assert set(got.valid[:, 0].tolist()) == set(got.test[:, 0].tolist())


# ---- load_heldout_split: the protocols' splits from a dataset folder -------------------------------------

def _pairs(users, items):
    return set(zip(users.tolist(), items.tolist()))


def _write_table(root, rows):
    os.makedirs(os.path.join(root, "own"), exist_ok=True)
    with open(os.path.join(root, "own", "interactions.tsv"), "w") as f:
        f.write("user\titem\ttimestamp\n" + "".join(f"{u}\t{i}\t{t}\n" for u, i, t in rows))
    return root


def test_heldout_split_parts_are_disjoint_deterministic_and_seeded(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", int(rng.integers(0, 10 ** 6))) for u in range(40)
            for i in rng.choice(60, size=int(rng.integers(5, 20)), replace=False)]
    root = _write_table(str(tmp_path), rows)
    for rule, order, drop in (("ratio", "file", False), ("ratio", "random", True), ("hetcomp", "random", True)):
        ratios = (8, 1, 1) if rule == "ratio" else (6, 2, 2)
        split = load_heldout_split(root, "own", rule, ratios, order, 0, drop_unseen=drop)
        train, valid, test = (_pairs(split.train_users, split.train_items), _pairs(split.valid_users, split.valid_items),
                              _pairs(split.test_users, split.test_items))
        assert not train & valid and not train & test and not valid & test
        assert len(train) == split.n_train and len(valid) == len(split.valid_users)
        if drop:
            assert set(split.valid_items.tolist()) | set(split.test_items.tolist()) <= set(split.train_items.tolist())
        else:
            assert len(train) + len(valid) + len(test) == len(rows)          # every pair somewhere
        again = load_heldout_split(root, "own", rule, ratios, order, 0, drop_unseen=drop)
        assert again.fingerprint == split.fingerprint
        if order == "random":
            assert load_heldout_split(root, "own", rule, ratios, order, 1, drop_unseen=drop).fingerprint != split.fingerprint


def test_heldout_split_orders_file_and_time(tmp_path):
    """File order: each user's last lines are held out (test last); time order: its latest interactions."""
    rows = [(u, i, (7 * i + u) % 10) for u in range(3) for i in range(10)]         # timestamps a permutation per user
    root = _write_table(str(tmp_path), rows)
    by_file = load_heldout_split(root, "own", "ratio", (8, 1, 1), "file")
    by_time = load_heldout_split(root, "own", "ratio", (8, 1, 1), "time")
    stamp = {(u, i): t for u, i, t in rows}
    ids = lambda split, part: _pairs(getattr(split, f"{part}_users"), getattr(split, f"{part}_items"))  # noqa: E731
    assert ids(by_file, "test") == {(u, 9) for u in range(3)} and ids(by_file, "valid") == {(u, 8) for u in range(3)}
    assert {stamp[p] for p in ids(by_time, "test")} == {9} and {stamp[p] for p in ids(by_time, "valid")} == {8}
    assert max(stamp[p] for p in _pairs(by_time.train_users, by_time.train_items)) == 7


def test_citeulike_under_the_protocols_gives_the_documented_counts():
    kds = load_heldout_split("data", "citeULike")
    assert (kds.n_users, kds.n_items, kds.n_train, len(kds.valid_users), len(kds.test_users)) == \
        (5219, 25181, 98405, 12451, 14724)
    het = load_heldout_split("data", "citeULike", "hetcomp", (6, 2, 2), "random", 0, drop_unseen=True)
    assert (het.n_train, len(het.valid_users), len(het.test_users), len(np.unique(het.test_users))) == \
        (78958, 20823, 20823, 4719)
