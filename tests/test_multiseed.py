"""Tables over split seeds x training seeds, and the fixed-budget selection, against hand computations."""
import json

import numpy as np
import pytest
from scipy import stats

from Utils.reporting.multiseed import (budget_selection, collect_runs, log_name, main, paired_gain, run_teachers,
                                      summary, tables)

KEYS9 = ["H@5", "N@5", "M@5", "H@10", "N@10", "M@10", "H@20", "N@20", "M@20"]


def metrics(h5):
    values = {k: 0.5 for k in KEYS9}
    values["H@5"] = h5
    return values


def write_log(folder, name, h5, epochs=None, **config):
    with open(folder / f"{name}.jsonl", "w") as f:
        for record in epochs or [{"epoch": 0, "loss": 1.0, "valid": metrics(h5), "test": metrics(h5)}]:
            f.write(json.dumps(record) + "\n")
        f.write(json.dumps({"final": {"valid": metrics(h5), "test": metrics(h5), "checkpoint_epoch": 0,
                                      "epochs_run": len(epochs or [0]), "config": config}}) + "\n")


def test_log_names_follow_the_entry_scripts():
    assert [log_name("DE", s, t) for s, t in ((0, 0), (1, 0), (0, 2), (1, 2))] == \
        ["DE", "DE_LOO1", "DE_seed2", "DE_LOO1_seed2"]


def test_means_within_splits_then_over_splits_and_gains_with_t_intervals(tmp_path):
    student = {0: [0.40, 0.42, 0.44], 1: [0.50, 0.52], 2: [0.45]}
    de = {0: [0.46, 0.48], 1: [0.55], 2: [0.47, 0.49, 0.51]}
    for name, runs in (("student", student), ("DE", de)):
        for split, values in runs.items():
            for seed, h5 in enumerate(values):
                write_log(tmp_path, log_name(name, split, seed), h5, LOO_seed=split, seed=seed)
    write_log(tmp_path, "DE_LOO2_seed4", 0.99, LOO_seed=2, seed=3)          # a mislabelled run: left out
    found = collect_runs(str(tmp_path), ["student", "DE"], [0, 1, 2], [0, 1, 2, 3, 4])
    assert {s: sorted(r) for s, r in found["DE"].items()} == {0: [0, 1], 1: [0], 2: [0, 1, 2]}
    splits, runs, mean, std = summary(found)["DE"]
    split_means = [np.mean(de[s]) for s in (0, 1, 2)]
    assert splits == [0, 1, 2] and runs == 6
    assert mean[0] == pytest.approx(np.mean(split_means)) and std[0] == pytest.approx(np.std(split_means, ddof=1))
    splits, gain, low, high = paired_gain(found["DE"], found["student"])
    per_split = [np.mean(de[s]) - np.mean(student[s]) for s in (0, 1, 2)]
    half = stats.t.ppf(0.975, 2) * np.std(per_split, ddof=1) / np.sqrt(3)
    assert gain[0] == pytest.approx(np.mean(per_split))
    assert (low[0], high[0]) == (pytest.approx(np.mean(per_split) - half), pytest.approx(np.mean(per_split) + half))
    assert gain[1] == pytest.approx(0.0) and "| DE | 0, 1, 2 | +0.0433 [+0.0290, +0.0577] |" in tables(found, "student")


def test_a_gain_over_runs_taught_by_another_teacher_says_on_which_splits(tmp_path):
    for split in (0, 1, 2):
        write_log(tmp_path, log_name("student", split, 0), 0.40, LOO_seed=split)
        write_log(tmp_path, log_name("URRD", split, 0), 0.45, LOO_seed=split, identity={"teacher": f"t{split}"})
        retrained = f"t{split}" + ("r" if split == 2 else "")
        write_log(tmp_path, log_name("DE", split, 0), 0.47, LOO_seed=split, identity={"teacher": retrained})
    found = collect_runs(str(tmp_path), ["student", "URRD", "DE"], [0, 1, 2], [0])
    teachers = run_teachers(str(tmp_path), found)
    assert teachers[("DE", 2)] == {"t2r"} and ("student", 0) not in teachers
    over_urrd = tables(found, "URRD", teachers=teachers)
    assert "| DE\u2020 | 0, 1, 2 | +0.0200 [+0.0200, +0.0200] |" in over_urrd
    assert over_urrd.rstrip().endswith("\u2020 DE: on split 2 its runs learned from another teacher checkpoint than "
                                       "the URRD's, so the gain there compares teachers too.")
    over_student = tables(found, "student", teachers=teachers)                # the student has no teacher
    assert "\u2020" not in over_student and "| DE | 0, 1, 2 | +0.0700" in over_student


def test_one_split_uses_welchs_interval_over_the_runs(tmp_path):
    a, b = [0.46, 0.48, 0.47], [0.40, 0.43]
    for seed, h5 in enumerate(a):
        write_log(tmp_path, log_name("DE", 0, seed), h5, seed=seed)
    for seed, h5 in enumerate(b):
        write_log(tmp_path, log_name("student", 0, seed), h5, seed=seed)
    found = collect_runs(str(tmp_path), ["DE", "student"], [0], [0, 1, 2])
    _, gain, low, high = paired_gain(found["DE"], found["student"])
    welch = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert gain[0] == pytest.approx(np.mean(a) - np.mean(b))
    assert (low[0], high[0]) == (pytest.approx(welch.low), pytest.approx(welch.high))
    found["student"][0] = {0: found["student"][0][0]}                         # one run: no interval
    assert np.isnan(paired_gain(found["DE"], found["student"])[2][0])


def test_the_budget_selects_per_cutoff_on_validation_below_it():
    def record(epoch, valid5, valid10, test5):
        valid = dict(metrics(valid5), **{"H@10": valid10})
        return {"epoch": epoch, "valid": valid, "test": dict(metrics(test5), **{"H@10": test5 + 0.1})}
    epochs = [record(0, 0.30, 0.60, 0.31), record(1, 0.40, 0.55, 0.41), record(2, 0.40, 0.70, 0.45),
              record(3, 0.90, 0.90, 0.95)]
    chosen = budget_selection(epochs, 3)                # epoch 3 is past the budget
    assert chosen["H@5"] == 0.41                         # epoch 1: best valid H@5, the first of the tie
    assert chosen["H@10"] == pytest.approx(0.55)         # epoch 2: best valid H@10
    assert budget_selection(epochs, 10)["H@5"] == 0.95 and budget_selection([], 3) is None


def test_command_writes_the_budget_table(tmp_path, capsys):
    epochs = [{"epoch": e, "valid": metrics(0.1 * e), "test": metrics(0.1 * e)} for e in range(5)]
    write_log(tmp_path, "student", 0.4, epochs=epochs)
    write_log(tmp_path, "FTD", 0.3)
    before = sorted(p.name for p in tmp_path.iterdir())
    main(["--log_dir", str(tmp_path), "--methods", "student", "FTD", "--splits", "0", "--budget", "3"])
    assert sorted(p.name for p in tmp_path.iterdir()) == before                  # without --out: printed only
    main(["--log_dir", str(tmp_path), "--methods", "student", "FTD", "--splits", "0", "--budget", "3",
          "--out", str(tmp_path / "budget3.md")])
    text = (tmp_path / "budget3.md").read_text()
    assert "| student | 0 | 1 | 0.2000 |" in text and "| FTD | 0 | 1 | 0.3000 |" in text
    assert "| FTD | 0 | +0.1000 |" in text and text in capsys.readouterr().out


def test_a_protocols_table_has_its_metrics_and_counts_only_its_runs(tmp_path):
    def kds_metrics(r10):
        return {"R@10": r10, "N@10": r10 / 2, "R@20": r10 + 0.1, "N@20": r10 / 2 + 0.05}

    for name, r10, protocol in (("student_kds", 0.20, "kds"), ("student_kds_seed1", 0.22, "kds"),
                                ("URRD_kds_toolkit", 0.25, "kds"), ("URRD_kds_toolkit_seed1", 0.26, "kds"),
                                ("URRD_kds_toolkit_seed2", 0.50, "loo")):      # the last: another protocol
        with open(tmp_path / f"{name}.jsonl", "w") as f:
            f.write(json.dumps({"final": {"valid": kds_metrics(r10), "test": kds_metrics(r10), "checkpoint_epoch": 0,
                                          "epochs_run": 1, "config": {"protocol": protocol, "seed": int(name[-1])
                                                                      if name[-1].isdigit() else 0,
                                                                      "batch_size": 2048, "early_stop": 30}}}) + "\n")
    main(["--log_dir", str(tmp_path), "--protocol", "kds", "--methods", "student_kds", "URRD_kds_toolkit",
          "--splits", "0", "--baseline", "student_kds", "--out", str(tmp_path / "results_kds.md")])
    text = (tmp_path / "results_kds.md").read_text()
    assert "| method | splits | runs | R@10 | N@10 | R@20 | N@20 |" in text
    assert "| URRD_kds_toolkit | 0 | 2 | 0.2550 | 0.1275 | 0.3550 | 0.1775 |" in text
    assert "| URRD_kds_toolkit | 0 | +0.0450" in text                      # Welch: 0.255 - 0.21


def test_the_order_of_methods_under_each_protocol(tmp_path):
    from Utils.reporting.protocol_order import main as order_main

    def write(name, final):
        with open(tmp_path / f"{name}.jsonl", "w") as f:
            f.write(json.dumps({"final": final}) + "\n")

    loo = {"student": 0.45, "DE": 0.47, "URRD": 0.46}              # loo: DE > URRD > student
    kds = {"student": 0.030, "DE": 0.020, "URRD": 0.025}           # kds: the reverse
    for method, h5 in loo.items():
        for split in (0, 1, 2):
            write(log_name(method, split, 0), {"test": metrics(h5), "config": {"LOO_seed": split, "seed": 0}})
    for method, n10 in kds.items():
        name = "student_kds" if method == "student" else f"{method}_kds_toolkit"
        write(name, {"test": {"R@10": 0.1, "N@10": n10}, "config": {"protocol": "kds", "seed": 0, "batch_size": 2048,
                                                                      "early_stop": 30}})
    order_main(["--log_dir", str(tmp_path), "--methods", "student", "DE", "URRD", "CD",
                "--out", str(tmp_path / "protocol_order.md")])
    text = (tmp_path / "protocol_order.md").read_text()
    assert "| DE | 0.4700 (1, 3) | 0.0200 (3, 1) |" in text and "| student | 0.4500 (3, 3) | 0.0300 (1, 1) |" in text
    assert "Kendall's tau, loo vs kds, over 3 methods (student, DE, URRD): -1.00" in text and "| CD |" not in text
