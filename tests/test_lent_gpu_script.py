"""scripts/lent_gpu.sh, the jobs-file runner for a lent GPU machine, run here with DEVICE=cpu on small
Python scripts: prerequisites, a failed prerequisite, the deadline, the early end and the archive."""
import os
import subprocess
import sys
import tarfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "lent_gpu.sh")

# Each job script records the flags it was given, so the test sees what the runner passes on.
# A run that succeeds leaves its finished log where a training script would.
JOB = """import os, sys, time
name = sys.argv[sys.argv.index("--run_name") + 1]
open(sys.argv[0] + "." + name + ".argv", "w").write(" ".join(sys.argv[1:]))
open(name + ".starts", "a").write("start\\n")
time.sleep({sleep})
if {code} == 0:
    os.makedirs("runs/lent_gpu/citeULike", exist_ok=True)
    open("runs/lent_gpu/citeULike/" + name + ".jsonl", "w").write("{{}}\\n")
sys.exit({code})
"""


def run_jobs(tmp_path, lines, deadline):
    for name, sleep, code in (("ok", 0, 0), ("fails", 0, 3), ("slow", 120, 0)):
        (tmp_path / f"{name}.py").write_text(JOB.format(sleep=sleep, code=code))
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("# a comment\n\n" + "\n".join(lines) + "\n")
    env = dict(os.environ, DEVICE="cpu", PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    start = time.monotonic()
    done = subprocess.run(["bash", SCRIPT, str(jobs), str(deadline), str(tmp_path / "out")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = (tmp_path / "runs" / "lent_gpu" / "summary.txt").read_text().splitlines()
    states = {line.split(":")[0]: line.split(": ", 1)[1].split(";")[0] for line in summary[1:]}
    return states, time.monotonic() - start


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_prerequisites_failures_and_deadline(tmp_path):
    states, wall = run_jobs(tmp_path, ["first - ok.py --x 1", "second first fails.py", "third first,second ok.py",
                                       "long first slow.py", "alone - ok.py"], deadline=8)
    assert states == {"first": "0", "second": "3", "third": "not started", "long": "stopped at the deadline",
                      "alone": "0"}
    assert 8 <= wall < 40
    # the runner's flags follow the line's own
    assert (tmp_path / "ok.py.first.argv").read_text() == \
        "--x 1 --log_path runs/lent_gpu/ --run_name first --num_threads 1 --device cpu"
    assert not (tmp_path / "ok.py.third.argv").exists()
    with tarfile.open(tmp_path / "out" / "lent_gpu.tar.gz") as archive:
        names = set(archive.getnames())
    assert {"lent_gpu/summary.txt", "lent_gpu/out/first.txt", "lent_gpu/out/long.txt"} <= names


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_ends_once_nothing_can_start(tmp_path):
    """A failed prerequisite leaves its dependants waiting forever: the runner ends instead of waiting out
    its deadline (on the H200 it once waited 8 minutes for nothing)."""
    states, wall = run_jobs(tmp_path, ["first - fails.py", "second first ok.py"], deadline=100)
    assert states == {"first": "3", "second": "not started"}
    assert wall < 30


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_same_command_continues(tmp_path):
    """Given again on the same machine, the jobs file continues: a run with a finished log is not run a
    second time and counts as done for its dependants; a run stopped at the deadline starts again."""
    lines = ["first - ok.py", "long first slow.py"]
    states, _ = run_jobs(tmp_path, lines, deadline=6)
    assert states == {"first": "0", "long": "stopped at the deadline"}
    states, _ = run_jobs(tmp_path, lines, deadline=6)
    assert states == {"first": "0", "long": "stopped at the deadline"}
    assert (tmp_path / "first.starts").read_text().splitlines() == ["start"]
    assert (tmp_path / "long.starts").read_text().splitlines() == ["start", "start"]
