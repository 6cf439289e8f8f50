"""Multi-seed tables are computed from the JSON-lines logs alone."""
import json
import os
import subprocess
import sys

import pytest

from Utils.training.logger import RunLogger
from Utils.reporting.logs import read_jsonl_log
from Utils.reporting.results import collect, csv_table, gains_table, main, markdown_table, paired_gains, summarize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KEYS9 = ["H@5", "N@5", "M@5", "H@10", "N@10", "M@10", "H@20", "N@20", "M@20"]


def write_log(folder, name, h5, fingerprint=None, **config):
    """A finished run's log; ``fingerprint``: of the checkpoint it saved (a teacher's), in its final record."""
    metrics = {k: 0.5 for k in KEYS9}
    metrics["H@5"] = h5
    final = {"valid": metrics, "test": metrics, "checkpoint_epoch": 0, "config": config}
    if fingerprint is not None:
        final["fingerprint"] = fingerprint
    with open(folder / f"{name}.jsonl", "w") as f:
        f.write(json.dumps({"epoch": 0, "loss": 1.0, "valid": metrics, "test": metrics}) + "\n")
        f.write(json.dumps({"final": final}) + "\n")


def test_mean_and_std_over_split_seeds(tmp_path):
    write_log(tmp_path, "DE", 0.40)
    write_log(tmp_path, "DE_LOO1", 0.50)
    write_log(tmp_path, "DE_LOO2", 0.60)
    write_log(tmp_path, "student", 0.30)
    write_log(tmp_path, "student_LOO1", 0.99, LOO_seed=1, max_epoch=2)   # a trial run: left out
    write_log(tmp_path, "student_LOO2", 0.99, LOO_seed=1)               # another split's run: left out
    (tmp_path / "URRD_LOO1.jsonl.4242.part").write_text("")          # unfinished runs are ignored
    found = collect(str(tmp_path), ["DE", "student", "URRD"], [0, 1, 2])
    summary = summarize(found)
    n, mean, std, seeds = summary["DE"]
    assert n == 3 and seeds == [0, 1, 2]
    assert mean["H@5"] == pytest.approx(0.5) and std["H@5"] == pytest.approx(0.1)
    assert summary["student"][0] == 1 and "URRD" not in summary
    table = markdown_table(summary)
    assert "| DE | 3 (0, 1, 2) | 0.5000 ± 0.1000 |" in table
    assert "*0.4817*" in table                                       # the paper's DE row beside ours
    assert csv_table(summary).splitlines()[1].startswith("DE,3,0 1 2,0.500000")


def test_gains_are_paired_by_split_over_the_seeds_both_runs_have(tmp_path):
    for seed, (student, de) in enumerate([(0.40, 0.45), (0.50, 0.52), (0.30, None)]):
        suffix = f"_LOO{seed}" if seed else ""
        write_log(tmp_path, "student" + suffix, student, LOO_seed=seed)
        if de is not None:
            write_log(tmp_path, "DE" + suffix, de, LOO_seed=seed)
    gains = paired_gains(collect(str(tmp_path), ["student", "DE"], [0, 1, 2]), "student")
    n, mean, std, wins = gains["DE"]
    assert n == 2 and wins == 2 and "student" not in gains
    assert mean["H@5"] == pytest.approx(0.035) and std["H@5"] == pytest.approx(0.015 * 2 ** 0.5)
    assert mean["N@5"] == pytest.approx(0.0)                 # the same N@5 on both: no gain
    assert "| DE | 2 | +0.0350 ± 0.0212 |" in gains_table(gains, "student")


def test_command_prints_and_writes_both_tables_only_when_asked(tmp_path, capsys):
    write_log(tmp_path, "teacher", 0.5)
    main(["--log_dir", str(tmp_path), "--methods", "teacher", "--seeds", "0"])
    assert capsys.readouterr().out.count("| teacher |") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacher.jsonl"]      # a query writes nothing
    main(["--log_dir", str(tmp_path), "--methods", "teacher", "--seeds", "0", "--out", str(tmp_path / "t")])
    assert (tmp_path / "t.md").read_text().count("| teacher |") == 1
    assert (tmp_path / "t.csv").read_text().count("teacher,") == 1


def test_two_processes_under_one_run_name_never_share_a_file(tmp_path, monkeypatch):
    """Two scripts training the same missing teacher at once: each writes its own .part files and
    the finished log is one run's, whole (the other's lines are not interleaved into it)."""
    loggers = []
    for pid in (os.getppid(), os.getpid()):          # two live processes
        monkeypatch.setattr("Utils.training.logger.os.getpid", lambda pid=pid: pid)
        loggers.append(RunLogger(str(tmp_path), "teacher", quiet=True))
    for epoch in range(3):
        for run, logger in enumerate(loggers):
            logger.record({"epoch": epoch, "run": run})
    for run, logger in enumerate(loggers):
        logger.final({"checkpoint_epoch": 2, "run": run})
        logger.close(finished=True)
    log = read_jsonl_log(str(tmp_path / "teacher.jsonl"))
    assert [r["run"] for r in log.epochs] == [1, 1, 1] and log.final["run"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacher.jsonl", "teacher.log"]


def test_stale_part_files_of_dead_runs_are_removed_and_live_ones_kept(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for pid in (dead.pid, os.getppid()):
        for ext in ("log", "jsonl"):
            (tmp_path / f"URRD.{ext}.{pid}.part").write_text("half")
    (tmp_path / f"URRD_LOO1.log.{dead.pid}.part").write_text("another run's")
    RunLogger(str(tmp_path), "URRD", quiet=True).close(finished=True)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["URRD.jsonl", "URRD.log", f"URRD_LOO1.log.{dead.pid}.part",
                           f"URRD.log.{os.getppid()}.part", f"URRD.jsonl.{os.getppid()}.part"])
    assert "removed" in capsys.readouterr().err


def test_table2_cells_average_the_runs_found_and_say_what_is_missing(tmp_path):
    from Utils.reporting.table2 import table2
    (tmp_path / "citeULike").mkdir()
    write_log(tmp_path / "citeULike", "RD", 0.40)
    write_log(tmp_path / "citeULike", "RD_LOO1", 0.50, LOO_seed=1)
    write_log(tmp_path / "citeULike", "NeuMF_URRD", 0.90)      # from the specified NeuMF teacher: not the column's
    write_log(tmp_path / "citeULike", "NeuMF_URRD_teacher_reg0_URRD_lmbda0.001", 0.30)
    write_log(tmp_path / "citeULike", "NeuMF_URRD_LOO2_teacher_reg0_URRD_lmbda0.001", 0.40, LOO_seed=2)
    text = table2(str(tmp_path), [0, 1, 2])
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in text.splitlines()[2:]}
    assert rows["RD"][0] == "0.4500 / 0.5000 (2)" and rows["RD"][1] == "0.4533 / 0.3395"
    assert rows["RRD"][2] == "0.3500 / 0.5000 (2)" and rows["RRD"][0] == "not run yet"
    assert rows["DE"][4] == "not run yet" and rows["CD (student-guided)"][5] == "0.5006 / 0.3608"


def test_table2_marks_the_cells_taught_by_another_teacher_than_their_column(tmp_path):
    from Utils.reporting.table2 import table2, taught_by_another
    folder = tmp_path / "citeULike"
    folder.mkdir()
    for name in ("RD", "CD", "URRD"):
        write_log(folder, name, 0.40, identity={"teacher": "committed"})
    write_log(folder, "DE", 0.40, identity={"teacher": "retrained"})
    write_log(folder, "DE_LOO1", 0.40, LOO_seed=1, identity={"teacher": "split1"})   # alone on its split
    write_log(folder, "DERRD", 0.40)                                                # no fingerprint recorded
    text = table2(str(tmp_path), [0, 1])
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in text.splitlines()[2:]}
    assert rows["DE"][0] == "0.4000 / 0.5000 (2)\u2020"
    assert [rows[r][0] for r in ("RD", "RRD", "DE-RRD")] == ["0.4000 / 0.5000 (1)"] * 3
    assert taught_by_another({"RD": "a", "DE": "b"}) == {"RD", "DE"}        # no teacher the column shares
    assert taught_by_another({"RD": "a", "CD": "a", "DE": "b", "RRD": "b", "X": "c"}) == {"RD", "CD", "DE", "RRD", "X"}
    assert taught_by_another({}) == set() and taught_by_another({"RD": "a"}) == set()
    assert taught_by_another({"RD": "a", "CD": "a", "DE": "b"}, column_teacher="b") == {"RD", "CD"}
    write_log(folder, "teacher", 0.50, fingerprint="retrained")        # the Teacher row's own checkpoint
    text = table2(str(tmp_path), [0])
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in text.splitlines()[2:]}
    assert rows["DE"][0] == "0.4000 / 0.5000 (1)" and rows["RD"][0] == "0.4000 / 0.5000 (1)\u2020"


def test_table2_command_prints_and_writes_only_when_asked(tmp_path, capsys):
    from Utils.reporting.table2 import main as table2_main
    (tmp_path / "citeULike").mkdir()
    write_log(tmp_path / "citeULike", "RD", 0.40)
    table2_main(["--log_root", str(tmp_path), "--seeds", "0"])
    assert "| RD | 0.4000 / 0.5000 (1) |" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["citeULike"]          # a query writes nothing
    table2_main(["--log_root", str(tmp_path), "--seeds", "0", "--out", str(tmp_path / "t2.md")])
    assert "| RD | 0.4000 / 0.5000 (1) |" in (tmp_path / "t2.md").read_text()


def test_table2_into_replaces_the_table_block_and_only_it(tmp_path):
    from Utils.reporting.table2 import main as table2_main, table2
    (tmp_path / "citeULike").mkdir()
    write_log(tmp_path / "citeULike", "RD", 0.40)
    old = table2(str(tmp_path / "empty"), [0])                    # every cell "not run yet"
    doc = tmp_path / "doc.md"
    doc.write_text("# Results\n\nbefore\n\n" + old + "\nafter the table\n")
    table2_main(["--log_root", str(tmp_path), "--seeds", "0", "--into", str(doc)])
    new = table2(str(tmp_path), [0])
    assert doc.read_text() == "# Results\n\nbefore\n\n" + new + "\nafter the table\n"
    assert "| RD | 0.4000 / 0.5000 (1) |" in doc.read_text()


def test_table2_into_writes_nothing_when_a_file_lacks_the_table(tmp_path):
    from Utils.errors import InputError
    from Utils.reporting.table2 import main as table2_main, table2
    (tmp_path / "citeULike").mkdir()
    write_log(tmp_path / "citeULike", "RD", 0.40)
    good, bad = tmp_path / "good.md", tmp_path / "bad.md"
    good.write_text(table2(str(tmp_path / "empty"), [0]))
    bad.write_text("no table here\n")
    before = good.read_text()
    with pytest.raises(InputError, match="bad.md: Table 2's header line found 0 times"):
        table2_main(["--log_root", str(tmp_path), "--seeds", "0", "--into", str(good), str(bad)])
    assert good.read_text() == before and bad.read_text() == "no table here\n"


def test_the_committed_table2_and_its_copies_are_the_committed_logs():
    """logs/table2.md, README.md and docs/results.md show the table the committed logs make: a landed
    run whose table was not regenerated fails here (fix: the --into command in the module docstring)."""
    from Utils.reporting.table2 import table2
    made = table2(os.path.join(ROOT, "logs"), [0, 1, 2])
    with open(os.path.join(ROOT, "logs", "table2.md")) as f:
        assert f.read() == made
    for path in ("README.md", os.path.join("docs", "results.md")):
        with open(os.path.join(ROOT, path)) as f:
            assert "\n" + made in f.read(), path


def test_the_committed_three_split_tables_are_the_committed_logs(tmp_path, monkeypatch):
    """logs/citeULike/results_seeds.{md,csv} and results_train_seeds.md are what their commands make from the
    committed logs (regenerate: docs/results.md, "Over three split seeds" and "split seeds x training seeds")."""
    from Utils.reporting.multiseed import main as multiseed_main
    monkeypatch.chdir(ROOT)                         # the commands' defaults are relative to the repository
    main(["--out", str(tmp_path / "results_seeds")])
    multiseed_main(["--out", str(tmp_path / "results_train_seeds.md")])
    for name in ("results_seeds.md", "results_seeds.csv", "results_train_seeds.md"):
        with open(os.path.join(ROOT, "logs", "citeULike", name)) as committed:
            assert (tmp_path / name).read_text() == committed.read(), name
