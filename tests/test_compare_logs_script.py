"""scripts/compare_logs.py, the record-by-record check that a retrained or continued run is the committed one:
timings, pieces and config left aside; a differing epoch, a differing selection and a field only one log
has are each reported by name and make the exit status 1."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "compare_logs.py")


def write_log(path, losses, final):
    with open(path, "w") as f:
        for epoch, loss in enumerate(losses):
            f.write(json.dumps({"epoch": epoch, "loss": loss, "train_s": 10.0 + epoch, "valid": {"H@5": 0.1}}) + "\n")
        f.write(json.dumps({"final": final}) + "\n")
    return str(path)


def compare(a, b):
    done = subprocess.run([sys.executable, SCRIPT, a, b], capture_output=True, text=True)
    return done.returncode, done.stdout.splitlines()


FINAL = {"best_epoch": {"5": 1}, "test": {"H@5": 0.5}, "total_s": 20.0, "pieces": [{"commit": "abc"}]}


def test_equal_runs_with_other_timings_are_identical(tmp_path):
    a = write_log(tmp_path / "a.jsonl", [3.0, 2.0], FINAL)
    b = write_log(tmp_path / "b.jsonl", [3.0, 2.0], dict(FINAL, total_s=99.0, pieces=[{"commit": "def"}]))
    assert compare(a, b) == (0, ["epoch records: 2 and 2; differing: 0",
                                 "final records (selection, test metrics): identical"])


def test_a_differing_epoch_is_named_with_its_relative_difference(tmp_path):
    a = write_log(tmp_path / "a.jsonl", [3.0, 2.0], FINAL)
    b = write_log(tmp_path / "b.jsonl", [3.0, 2.002], FINAL)
    code, out = compare(a, b)
    assert code == 1
    assert out[0] == "epoch records: 2 and 2; differing: 1 (first: epoch 1 rel 1.0e-03)"


def test_the_final_fields_that_differ_are_named(tmp_path):
    a = write_log(tmp_path / "a.jsonl", [3.0], FINAL)
    b = write_log(tmp_path / "b.jsonl", [3.0], dict(FINAL, test={"H@5": 0.6}, stopped="early_stop"))
    code, out = compare(a, b)
    assert code == 1
    assert out[1] == ("final records (selection, test metrics): differ in stopped (absent / 'early_stop'), "
                      "test.H@5 (0.5 / 0.6)")
