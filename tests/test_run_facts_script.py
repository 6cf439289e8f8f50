"""scripts/run_facts.py: what a results row says of a finished run, read from a planted log."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "run_facts.py")


def metrics(h5, n5):
    return {"H@5": h5, "N@5": n5}


def write_log(path, final=True):
    records = [
        {"epoch": 0, "train_s": 100.0, "eval_s": 1.0, "sample_s": 0.5, "schedule": {"pairs_computed": 1.0},
         "valid": metrics(0.2, 0.1), "test": metrics(0.2, 0.1), "improved": True},
        {"epoch": 1, "train_s": 60.0, "eval_s": 1.0, "sample_s": 0.5, "schedule": {"pairs_computed": 1.0},
         "valid": metrics(0.3, 0.2), "test": metrics(0.3, 0.2), "improved": True},
        {"epoch": 2, "train_s": 9.0, "eval_s": 0.5, "sample_s": 0.5, "schedule": {"pairs_computed": 0.4},
         "valid": metrics(0.4, 0.3), "test": metrics(0.4, 0.3), "improved": True},
        {"epoch": 3, "train_s": 7.0, "eval_s": 0.5, "sample_s": 0.5, "schedule": {"pairs_computed": 0.1},
         "valid": metrics(0.4, 0.3), "test": metrics(0.4, 0.3), "improved": True},   # another H@N improved
    ]
    if final:
        piece = {"commit": "abc1234", "torch": "2.13.0+cpu", "device": "cpu", "threads": 1, "first_epoch": 0}
        records.append({"final": {
            "epochs_run": 4, "stopped": "early_stop", "best_epoch": {"5": 2, "10": 3}, "checkpoint_epoch": 3,
            "total_s": 600.0, "valid": metrics(0.41234, 0.30004), "test": metrics(0.39876, 0.29512),
            "pieces": [dict(piece, started="2026-12-06 03:00:00", last_epoch=1),
                       dict(piece, started="2026-12-06 05:00:00", first_epoch=2, last_epoch=3)]}})
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")


def run(*paths):
    return subprocess.run([sys.executable, SCRIPT, *map(str, paths)], capture_output=True, text=True, timeout=60)


def test_facts_of_a_finished_run(tmp_path):
    log = tmp_path / "DE.jsonl"
    write_log(log)
    done = run(log)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{log}: 4 epochs (early_stop), selected epoch per cutoff {{'5': 2, '10': 3}}, checkpoint epoch 3, "
        "wall 10.0 min",
        "  test: H@5 0.3988 / N@5 0.2951",
        "  valid: H@5 0.4123 / N@5 0.3000",
        "  piece: commit abc1234, cpu, 1 thread(s), torch 2.13.0+cpu, started 2026-12-06 03:00:00, epochs 0-1",
        "  piece: commit abc1234, cpu, 1 thread(s), torch 2.13.0+cpu, started 2026-12-06 05:00:00, epochs 2-3",
        "  2 all-expert epochs: 62-102 s (epoch 0: 102 s)",
        "  2 other epochs: mean 9.0 s",
    ]


def test_a_run_without_cutoff_5_reports_its_smallest(tmp_path):
    log = tmp_path / "kds.jsonl"
    write_log(log)
    lines = log.read_text().splitlines()
    final = json.loads(lines[-1])
    for split in ("valid", "test"):
        final["final"][split] = {"H@20": 0.5, "N@20": 0.25, "H@10": 0.125, "N@10": 0.0625, "R@10": 0.1,
                                 "R@20": 0.2}
    log.write_text("\n".join(lines[:-1] + [json.dumps(final)]) + "\n")
    done = run(log)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:3] == ["  test: R@10 0.1000 / N@10 0.0625 / R@20 0.2000 / N@20 0.2500",
                                             "  valid: R@10 0.1000 / N@10 0.0625 / R@20 0.2000 / N@20 0.2500"]


def test_an_unfinished_full_ranking_run_reports_the_epoch_selected_so_far(tmp_path):
    """One selection metric, not named in the log: the last epoch logged as improved is the one selected."""
    log = tmp_path / "DE_hetcomp.jsonl.7.part"
    records = [{"epoch": e, "train_s": 5.0, "valid": {"R@10": r10, "N@10": 0.1, "R@50": r50, "N@50": 0.2},
                "improved": improved}
               for e, r10, r50, improved in [(9, 0.1, 0.3, True), (19, 0.2, 0.25, False), (29, 0.05, 0.31, True),
                                             (39, 0.3, 0.2, False)]]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    done = run(log)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        f"{log}: unfinished, epochs 9-39 logged, selected so far: epoch 29 (epochs since: 10)",
        "  valid: R@10 0.0500 / N@10 0.1000 / R@50 0.3100 / N@50 0.2000",
        "  last logged improvement (early stopping's patience counts from it): epoch 29, 1 evaluation(s) since",
    ]


def test_an_unfinished_run_reports_its_progress(tmp_path):
    log = tmp_path / "DE.jsonl.123.part"
    write_log(log, final=False)
    done = run(log)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{log}: unfinished, epochs 0-3 logged, best valid H@5 0.4000 at epoch 2 (epochs since: 1)",
        "  last logged improvement (early stopping's patience counts from it): epoch 3, 0 evaluation(s) since",
        "  epoch 3: 8 s (pairs_computed 0.1)",
        "  epoch 2: 10 s (pairs_computed 0.4)",
        "  epoch 1: 62 s (pairs_computed 1)",
        "  2 all-expert epochs: 62-102 s (epoch 0: 102 s)",
        "  2 other epochs: mean 9.0 s",
    ]


def test_an_empty_log_is_refused(tmp_path):
    log = tmp_path / "DE.jsonl.123.part"
    log.write_text("")
    done = run(log)
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {log}: no epoch and no final record"
