"""The experiment runner on a real local Ray (no mocks): trials are the entry scripts' own runs, a finished
log is never rerun, and a grid is selected on validation. Marked ``ray``: ``pytest -m ray tests`` runs them alone."""
import json
import os

import pytest

ray = pytest.importorskip("ray")

import main_teacher  # noqa: E402
from planted import TINY_TRAINING, write_planted  # noqa: E402
from Utils import experiments  # noqa: E402
from Utils.errors import InputError  # noqa: E402

pytestmark = pytest.mark.ray
TIMINGS = {"sample_s", "train_s", "eval_s", "mean_epoch_s", "total_s", "peak_rss_mb", "pieces", "config"}


def records(path):
    out = []
    for line in open(path):
        record = json.loads(line)
        if "final" in record:
            record = {"final": {k: v for k, v in record["final"].items() if k not in TIMINGS}}
        out.append({k: v for k, v in record.items() if k not in TIMINGS})
    return out


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    try:                                   # a machine where Ray itself cannot start is not a failure of ours
        ray.init(num_cpus=1, include_dashboard=False, object_store_memory=100 * 2 ** 20)
    except Exception as err:               # noqa: BLE001 (Ray raises several kinds)
        pytest.skip(f"Ray cannot start on this machine: {err}")
    ray.shutdown()
    root = tmp_path_factory.mktemp("experiments")
    write_planted(str(root))
    extra = ["--data_path", str(root), "--save_path", str(root / "saved"), *TINY_TRAINING, "--max_epoch", "8"]
    argv = ["student", "--dataset", "planted", "--grid", "lr=0.02,0.0001", "--log_path", str(root / "logs"),
            "--cpus", "2", "--storage", str(root / "tune"), "--", *extra]
    results = experiments.main(argv)
    yield root, argv, extra, results
    ray.shutdown()


def test_trials_write_the_logs_the_command_by_hand_writes(grid_run, capsys):
    root, argv, extra, results = grid_run
    assert sorted(r["state"] for r in results.values()) == ["finished", "finished"]
    trial = experiments.plan(["student"], [0], ["planted"], [{"lr": "0.02"}], str(root / "logs"),
                             ["--num_threads", "1", "--quiet", *extra])[0]
    by_hand = main_teacher.main([*trial.argv[:-1], str(root / "by_hand")])
    assert os.path.basename(trial.log) == f"{trial.name}.jsonl" and by_hand.final["epochs_run"] == 8
    assert records(trial.log) == records(str(root / "by_hand" / "planted" / f"{trial.name}.jsonl"))


def test_every_evaluated_epoch_is_reported_to_tune_with_its_resume_state(grid_run):
    """Tune's own result files hold one report per epoch (the log's validation numbers) and then the
    selected result; the reports of saved epochs carry the resume file as the trial's checkpoint."""
    root, _, _, results = grid_run
    for name in results:
        trial_dirs = [d for d in (root / "tune").glob("experiments_*/*") if d.is_dir() and name in d.name]
        assert len(trial_dirs) == 1, trial_dirs
        reports = [json.loads(line) for line in open(trial_dirs[0] / "result.json")]
        epochs = [json.loads(line) for line in open(root / "logs" / "planted" / f"{name}.jsonl") if '"epoch"' in line]
        assert [r["valid_H@5"] for r in reports[:-1]] == [e["valid"]["H@5"] for e in epochs]
        assert reports[-1]["finished"] and reports[-1]["valid_H@5"] == results[name]["valid_H@5"]
        checkpoints = sorted(trial_dirs[0].glob("checkpoint_*/*.resume.pt"))
        assert checkpoints and all(p.name == f"{name}.resume.pt" for p in checkpoints)


def test_asha_stops_a_hopeless_grid_point_and_keeps_its_resume_file(tmp_path):
    """One CPU, so the good point runs first; the hopeless one (lr 1e-6) is below it at the first rung."""
    ray.shutdown()
    write_planted(str(tmp_path))
    extra = ["--data_path", str(tmp_path), "--save_path", str(tmp_path / "saved"), *TINY_TRAINING,
             "--max_epoch", "12", "--resume_every", "0"]
    results = experiments.main(["student", "--dataset", "planted", "--grid", "lr=0.02,0.000001", "--log_path",
                                str(tmp_path / "logs"), "--cpus", "1", "--storage", str(tmp_path / "tune"),
                                "--asha", "--asha_grace", "3", "--", *extra])
    ray.shutdown()
    good, bad = (next(n for n in results if lr in n) for lr in ("lr0.02", "lr1e-06"))
    assert results[good]["state"] == "finished" and results[good]["epochs"] == 12
    assert results[bad]["state"].startswith("stopped early at epoch 2")
    assert os.path.exists(tmp_path / "logs" / "planted" / f"{bad}.resume.pt")
    assert not os.path.exists(tmp_path / "logs" / "planted" / f"{bad}.jsonl")


def test_trials_under_a_full_ranking_protocol_report_its_selection_metric(tmp_path):
    """A kds trial reports its validation N@10 per epoch and its selected valid and test N@10 at the end."""
    ray.shutdown()
    write_planted(str(tmp_path))
    extra = ["--data_path", str(tmp_path), "--save_path", str(tmp_path / "saved"), *TINY_TRAINING, "--max_epoch", "4"]
    results = experiments.main(["student", "--dataset", "planted", "--grid", "protocol=kds", "--log_path",
                                str(tmp_path / "logs"), "--cpus", "1", "--storage", str(tmp_path / "tune"), "--", *extra])
    ray.shutdown()
    (name, result), = results.items()
    final = json.loads(open(tmp_path / "logs" / "planted" / f"{name}.jsonl").readlines()[-1])["final"]
    assert name.startswith("student_kds") and result["state"] == "finished"
    assert result["valid_score"] == result["valid_N@10"] == final["valid"]["N@10"]
    assert result["test_score"] == final["test"]["N@10"] and "valid_H@5" not in result
    trial_dir, = [d for d in (tmp_path / "tune").glob("experiments_*/*") if d.is_dir()]
    reports = [json.loads(line) for line in open(trial_dir / "result.json")]
    assert len(reports) == 5 and all("valid_N@10" in r for r in reports)


def test_a_time_budget_stops_the_trials_resumably(tmp_path):
    """--time_budget (a machine lent for a fixed time) stops a long trial; its resume file stays and
    the plan of the same command lists it as unfinished."""
    ray.shutdown()
    write_planted(str(tmp_path))
    extra = ["--data_path", str(tmp_path), "--save_path", str(tmp_path / "saved"), *TINY_TRAINING,
             "--max_epoch", "100000", "--early_stop", "100000"]
    argv = ["student", "--dataset", "planted", "--log_path", str(tmp_path / "logs"), "--cpus", "1",
            "--storage", str(tmp_path / "tune"), "--", *extra]
    results = experiments.main(argv[:-len(extra) - 1] + ["--time_budget", "25", "--", *extra])
    ray.shutdown()
    (name, result), = results.items()
    assert result["state"].startswith("stopped early at epoch")
    trial = experiments.plan(["student"], [0], ["planted"], [{}], str(tmp_path / "logs"), extra)[0]
    assert trial.state == "unfinished" and not os.path.exists(trial.log)


def test_a_finished_log_is_not_rerun_and_the_grid_is_selected_on_validation(grid_run, capsys):
    root, argv, _, first = grid_run
    capsys.readouterr()
    again = experiments.main(argv)
    out = capsys.readouterr().out
    assert sorted(r["state"] for r in again.values()) == ["done before", "done before"]
    assert out.count("\ndone ") + out.startswith("done ") == 2 and "started" not in out
    best = max(first, key=lambda name: first[name]["valid_H@5"])
    assert "lr0.02" in best and first[best]["valid_H@5"] > min(r["valid_H@5"] for r in first.values())
    marked = [line for line in out.splitlines() if "(best valid)" in line]
    assert len(marked) == 1 and best in marked[0]


def test_bad_plans_are_refused_before_ray_starts(tmp_path):
    with pytest.raises(InputError, match="unknown or no runs"):
        experiments.main(["nonexistent", "--dry_run"])
    with pytest.raises(InputError, match="expected FLAG=v1,v2"):
        experiments.main(["student", "--grid", "lr", "--dry_run"])
    with pytest.raises(InputError, match="two trials would write one log"):
        experiments.plan(["student", "student"], [0], ["citeULike"], [{}], str(tmp_path))


def test_a_killed_driver_continues_with_the_same_command(tmp_path):
    """Kill the driver (and its local Ray) once the first of three trials has finished; the same command
    again does not rerun that trial and finishes the others."""
    import signal
    import subprocess
    import sys
    import time
    write_planted(str(tmp_path))
    extra = ["--data_path", str(tmp_path), "--save_path", str(tmp_path / "saved"), *TINY_TRAINING, "--max_epoch", "8"]
    command = [sys.executable, "-m", "Utils.experiments", "student", "--dataset", "planted", "--grid",
               "lr=0.02,0.03,0.04", "--log_path", str(tmp_path / "logs"), "--cpus", "1", "--", *extra]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    driver = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    logs = tmp_path / "logs" / "planted"
    deadline = time.time() + 240
    while time.time() < deadline and not (logs.exists() and list(logs.glob("*.jsonl"))):
        time.sleep(0.2)
    finished = sorted(logs.glob("*.jsonl"))
    assert finished, driver.communicate()[0].decode()[-2000:]
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    first = {p.name: p.read_bytes() for p in finished}
    again = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    plan_lines = [line for line in again.stdout.splitlines() if line.startswith(("done", "new", "unfinished"))]
    assert sum(line.startswith("done") for line in plan_lines) >= len(first) and len(plan_lines) == 3
    assert len(list(logs.glob("*.jsonl"))) == 3
    assert all((logs / name).read_bytes() == content for name, content in first.items())   # not rerun
