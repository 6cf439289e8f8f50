"""scripts/cpu_queue.sh, the one-core queue of the table runs, on small Python scripts: order, prerequisites
of the line's dataset or another, a failed run and its dependants, the flags it adds, and the same command
continuing without rerunning what finished."""
import glob
import importlib
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "cpu_queue.sh")

# A stand-in training script: records its flags and the order of starts, and (code 0) leaves the finished
# log where a training script writes it, logs/<dataset>/<name>.jsonl, named by its own flags.
JOB = """import os, sys
args = sys.argv[1:]
name, dataset, code = args[args.index("--name") + 1], args[args.index("--dataset") + 1], int(args[args.index("--code") + 1])
open("starts.txt", "a").write(f"{dataset}/{name} {os.environ['OMP_NUM_THREADS']} {' '.join(args[6:])}\\n")
if code == 0:
    os.makedirs(f"logs/{dataset}", exist_ok=True)
    open(f"logs/{dataset}/{name}.jsonl", "w").write("{}\\n")
sys.exit(code)
"""


def line(name, dataset, code=0, after=None):
    deps = f" after={after}" if after else ""
    return f"{name} {dataset}{deps} job.py --name {name} --dataset {dataset} --code {code}"


def run_queue(tmp_path, lines):
    (tmp_path / "job.py").write_text(JOB)
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("# a comment\n\n" + "\n".join(lines) + "\n")
    env = dict(os.environ, QUEUE_WAIT_S="0.2", PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    done = subprocess.run(["bash", SCRIPT, str(jobs), str(tmp_path), str(tmp_path / "state")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    starts = tmp_path / "starts.txt"
    return starts.read_text().splitlines() if starts.exists() else [], done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_order_prerequisites_and_failures(tmp_path):
    # a teacher of the same name exists for another dataset: it does not satisfy the foursquare student's
    (tmp_path / "logs" / "citeULike").mkdir(parents=True)
    (tmp_path / "logs" / "citeULike" / "teacher.jsonl").write_text("{}\n")
    starts, out = run_queue(tmp_path, [
        line("student", "foursquare", after="teacher"),
        line("teacher", "foursquare"),
        line("broken", "foursquare", code=3),
        line("after_broken", "citeULike", after="foursquare/broken"),
        line("after_both", "citeULike", after="teacher,foursquare/teacher"),
        line("teacher", "citeULike"),                       # finished before: not run again
        line("two_threads", "citeULike") + " --num_threads 2",
    ])
    assert starts == [
        "foursquare/teacher 1 --num_threads 1 --log_path logs/",
        "foursquare/student 1 --num_threads 1 --log_path logs/",
        "foursquare/broken 1 --num_threads 1 --log_path logs/",
        "citeULike/after_both 1 --num_threads 1 --log_path logs/",
        "citeULike/two_threads 2 --num_threads 2 --log_path logs/",
    ]
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [
        "failed.foursquare.broken", "out.citeULike.after_both.txt", "out.citeULike.two_threads.txt", "out.foursquare.broken.txt",
        "out.foursquare.student.txt", "out.foursquare.teacher.txt"]
    assert "FAILED foursquare/broken (rc 3)" in out and out.rstrip().endswith("nothing left to start in "
                                                                             f"{tmp_path / 'jobs.txt'}")


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_waits_for_another_queue_and_continues(tmp_path):
    """A prerequisite that another queue is running is waited for; given again, the same command starts only
    what has no log yet (here the failed run, once its marker is removed)."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "running.citeULike.teacher").write_text("")       # the other queue's run
    lines = [line("student", "citeULike", after="teacher"), line("flaky", "citeULike", code=1)]
    finisher = subprocess.Popen([sys.executable, "-c", "import os, time; time.sleep(1.5); "
                                 "os.makedirs('logs/citeULike', exist_ok=True); "
                                 "open('logs/citeULike/teacher.jsonl', 'w').write('{}')"], cwd=tmp_path)
    starts, _ = run_queue(tmp_path, lines)
    finisher.wait()
    assert [s.split()[0] for s in starts] == ["citeULike/flaky", "citeULike/student"]
    (state / "failed.citeULike.flaky").unlink()
    starts, _ = run_queue(tmp_path, lines)
    assert [s.split()[0] for s in starts] == ["citeULike/flaky", "citeULike/student", "citeULike/flaky"]


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_a_marker_left_by_a_queue_that_is_gone_is_removed_and_its_run_continued(tmp_path):
    """A lost session kills the queue and its run, leaving running.*: the same command given again takes the
    run up (a marker whose queue is alive, as in the test above, is respected)."""
    state = tmp_path / "state"
    state.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (state / "running.citeULike.long").write_text(f"{gone.pid}\n")
    (state / "running.citeULike.other").write_text(f"{os.getpid()}\n")    # alive, but no queue: also gone
    starts, out = run_queue(tmp_path, [line("long", "citeULike"), line("other", "citeULike")])
    assert [s.split()[0] for s in starts] == ["citeULike/long", "citeULike/other"]
    assert not list(state.glob("running.*"))


@pytest.mark.parametrize("jobs", sorted(glob.glob(os.path.join(ROOT, "scripts", "jobs_cpu_*.txt"))))
def test_every_jobs_line_is_named_as_its_script_names_the_run(jobs):
    """The queue counts a line done when logs/DATASET/NAME.jsonl exists: NAME must be the name the entry
    script gives that run (with the queue's own flags added), or a finished run would run again."""
    for line in open(jobs).read().splitlines():
        if not line or line.startswith("#"):
            continue
        name, dataset, *rest = line.split()
        if rest[0].startswith("after="):
            rest = rest[1:]
        script, flags = rest[0], rest[1:]
        entry = importlib.import_module(script[:-len(".py")])
        argv = flags + (["--num_threads", "1"] if "--num_threads" not in flags else []) + ["--log_path", "logs/"]
        assert entry.planned_name(argv) == name, line
        assert ("--dataset" in flags) == (dataset != "citeULike"), line
