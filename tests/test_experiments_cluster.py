"""Removing a worker node mid-run: on a real two-worker Ray cluster on one machine (ray.cluster_utils)."""
import json
import os
import threading
import time

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

import main_teacher  # noqa: E402
from planted import TINY_TRAINING, write_planted  # noqa: E402
from Utils import experiments  # noqa: E402
from test_experiments import records  # noqa: E402

pytestmark = pytest.mark.ray


def test_a_trial_whose_node_is_removed_continues_elsewhere_from_its_last_saved_epoch(tmp_path):
    write_planted(str(tmp_path))
    os.environ.setdefault("RAY_worker_niceness", "0")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    extra = ["--data_path", str(tmp_path), "--save_path", str(tmp_path / "saved"), *TINY_TRAINING,
             "--max_epoch", "1500", "--early_stop", "1500", "--resume_every", "0", "--num_threads", "1"]
    logs = tmp_path / "logs"
    trials = experiments.plan(["student"], [0], ["planted"], [{"lr": "0.02"}, {"lr": "0.03"}], str(logs),
                              ["--quiet", *extra])
    removed = []

    def remove_a_worker_mid_way():
        """Once both trials have logged ten epochs (their unfinished logs), remove the first worker node
        and the resume files in the log folder, as if it were that node's own disk: the interrupted trial
        can only continue from the checkpoint it reported to Tune (the other saves its own again)."""
        deadline = time.time() + 600
        while time.time() < deadline:
            parts = list((logs / "planted").glob("*.jsonl.*.part")) if (logs / "planted").exists() else []
            if len(parts) == 2 and all(sum(1 for _ in open(p)) >= 10 for p in parts):
                cluster.remove_node(workers[0])
                removed.append(time.time())
                for t in trials:
                    if os.path.exists(t.resume):
                        os.remove(t.resume)
                return
            time.sleep(0.05)

    monitor = threading.Thread(target=remove_a_worker_mid_way, daemon=True)
    monitor.start()
    try:
        results = experiments.execute(trials, address=cluster.address, max_failures=3)
        ended = time.time()
    finally:
        monitor.join(timeout=600)
        ray.shutdown()
        cluster.shutdown()
    assert removed and removed[0] < ended, "the node was not removed while the trials ran"
    assert sorted(r["state"] for r in results.values()) == ["finished", "finished"]
    pieces = {t.name: json.loads(open(t.log).readlines()[-1])["final"]["pieces"] for t in trials}
    interrupted = [t for t in trials if len(pieces[t.name]) > 1]
    assert len(interrupted) == 1, pieces
    t = interrupted[0]
    assert pieces[t.name][1]["first_epoch"] > 0          # continued from Tune's checkpoint, not restarted
    main_teacher.main([*t.argv[:-1], str(tmp_path / "by_hand")])
    assert records(t.log) == records(str(tmp_path / "by_hand" / "planted" / f"{t.name}.jsonl"))
