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
            "--cpus", "2", "--", *extra]
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
