"""Many runs at once on Ray Tune: registered runs x split seeds x datasets x flag grids, one trial each.

    python -m Utils.experiments DE URRD --seeds 0 1 2                       # a local Ray on this machine
    python -m Utils.experiments URRD --grid URRD_lmbda=1e-3,1e-2,1e-1 --seeds 0 1 2
    python -m Utils.experiments DE --dataset citeULike foursquare --gpus_per_run 0.1   # ten runs per GPU
    python -m Utils.experiments DE --address auto                          # join a running cluster
    python -m Utils.experiments student --dry_run -- --max_epoch 5          # flags after -- go to every run
    python -m Utils.experiments URRD --grid URRD_lmbda=1e-4,1e-3,1e-2,1e-1 --asha  # prune a grid early

A trial is the entry script's own ``main`` on the command the registry gives (``Utils.registry``) plus
the grid point, ``--dataset``, the output folders and the flags after ``--``: the same logs under the same
names, the same numbers as the command typed by hand. What is planned is printed first, each trial as
done (its finished log exists: never rerun), unfinished (a resume file: the trial continues it) or new;
the command given again after the driver was killed runs only what is not done. A trial that fails
(its worker died) is retried up to ``--max_failures`` times, continuing from its last saved epoch: from
the resume file in the log folder, or on a node that does not see it from the trial's Tune checkpoint
(each evaluated epoch is reported to Tune, with the resume file when one was just saved). ``--asha``
stops hopeless grid points early (off by default: it changes which points finish); ``--time_budget S``
stops every trial after S seconds, resumably (a machine lent for a fixed time).
One line per trial state change, then a table of every trial (state, epochs, selected validation and
test headline metric: H@5, or a full-ranking protocol's --select, docs/protocols.md; wall time); over a
grid the point with the best validation value of each (run, dataset, split seed) is marked, selected on
validation only.

Without ``--address`` a local Ray starts on this machine (``--cpus`` of it, all by default); with one it
joins a cluster started by ``ray start --head`` on one machine and ``ray start --address=<head>:6379`` on
the others (docs/experiments.md, SLURM too). Ray is optional: ``pip install -r requirements-ray.txt``.
"""
import argparse
import importlib
import itertools
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass

from Utils.atomic import atomic_path
from Utils.errors import InputError, run_cli
from Utils.registry import RUNS
from Utils.training.config import DEFAULT_LOG_PATH
from Utils.training.listeners import epoch_listener
from Utils.training.protocols import HELDOUT_ONLY, PROTOCOLS
from Utils.training.resume import resume_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Trial:
    run: str                 # registered run name
    dataset: str
    split_seed: int
    point: dict              # the grid point {flag: value}
    module: str              # entry script module
    argv: list               # its command-line flags
    name: str                # the log name the entry script gives them
    log: str                 # <log_path>/<dataset>/<name>.jsonl

    @property
    def resume(self):
        """The run's resume file (its entry script's ``--resume_every``)."""
        return resume_file(os.path.dirname(self.log), self.name)

    @property
    def state(self):
        if os.path.exists(self.resume):
            return "unfinished"
        return "done" if os.path.isfile(self.log) else "new"


def parse_grid(items):
    """['URRD_lmbda=1e-3,1e-2', 'U_K=20,40'] -> [{'URRD_lmbda': '1e-3', 'U_K': '20'}, ...] (the product)."""
    axes = []
    for item in items or []:
        flag, sep, values = item.partition("=")
        if not sep or not flag or not values:
            raise InputError(f"--grid {item!r}: expected FLAG=v1,v2,...")
        axes.append([(flag.lstrip("-"), v) for v in values.split(",") if v])
    return [dict(point) for point in itertools.product(*axes)] if axes else [{}]


def plan(runs, seeds, datasets, grid, log_path, extra=()):
    """The trials, in order, each with the log name its entry script gives it."""
    unknown = [r for r in runs if r not in RUNS]
    if unknown or not runs:
        raise InputError(f"unknown or no runs {unknown} (known: {', '.join(RUNS)})")
    trials = []
    for run, dataset, seed, point in itertools.product(runs, datasets, seeds, grid):
        command = RUNS[run].command(seed)
        module = command[0][:-len(".py")]
        grid_flags = itertools.chain.from_iterable((f"--{k}", v) for k, v in point.items())
        argv = [*command[1:], "--dataset", dataset, *extra, *grid_flags, "--log_path", log_path]   # the grid wins
        entry = importlib.import_module(module)
        name = entry.planned_name(argv)
        trials.append(Trial(run, dataset, seed, point, module, argv, name,
                            os.path.join(log_path, dataset, f"{name}.jsonl")))
    names = [t.log for t in trials]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"two trials would write one log: {', '.join(repeated)}")
    return trials


def run_trial(config):
    """The Tune trainable: the entry script's main on the trial's flags, in the project folder
    (``config['trial']``: root, module, argv, label, resume).

    Every evaluated epoch is reported to Tune (its validation metrics); when the run has saved its
    resume state since the last report, the report carries that file as the trial's checkpoint. A
    trial that Tune restarts (its node died) takes its checkpoint back when the log folder of the
    node it now runs on has no resume file of its own (a folder the nodes do not share), so it
    continues from its last saved epoch either way. The last report is the run's selected result."""
    config = config["trial"]
    os.chdir(config["root"])
    if config["root"] not in sys.path:
        sys.path.insert(0, config["root"])
    from ray import tune

    resume = config["resume"]
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None and not os.path.exists(resume):
        with checkpoint.as_directory() as folder, atomic_path(resume) as tmp:
            shutil.copyfile(os.path.join(folder, os.path.basename(resume)), tmp)
    start = time.perf_counter()
    pending = []                                   # a save not yet reported (an epoch without evaluation)
    headline = headline_of(config["argv"])

    def report(record, saved):
        if saved:
            pending[:] = [saved]
        if "valid" not in record:
            return
        metrics = {"epoch": record["epoch"], "loss": record["loss"], **headline_metrics(record, headline, ("valid",)),
                   "wall_s": time.perf_counter() - start}
        if not pending:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            try:
                shutil.copyfile(pending.pop(), os.path.join(folder, os.path.basename(resume)))
            except FileNotFoundError:          # removed under the running trial: this report has none
                tune.report(metrics)
                return
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    with epoch_listener(report):
        result = importlib.import_module(config["module"]).main(list(config["argv"]))
    final = result.final
    tune.report({"epoch": final["epochs_run"] - 1, **headline_metrics(final, headline, ("valid", "test")),
                 "epochs": final["epochs_run"], "wall_s": time.perf_counter() - start, "finished": True})


def flag_value(argv, flag, default):
    """The value ``argv`` gives ``flag`` (the last one, as argparse takes it; ``--flag value`` or
    ``--flag=value``), else ``default``."""
    value = default
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith(flag + "="):
            value = arg[len(flag) + 1:]
    return value


def headline_of(argv):
    """The validation metric a run's flags select on: H@5 under leave-one-out (the paper's first cut-off),
    else its protocol's --select (docs/protocols.md)."""
    protocol = flag_value(argv, "--protocol", "loo")
    preset = PROTOCOLS.get(protocol, {})
    if flag_value(argv, "--split", preset.get("split", "loo")) == "loo":
        return "H@5"
    return flag_value(argv, "--select", preset.get("select", HELDOUT_ONLY["select"]))


def headline_metrics(record, headline, parts):
    """What a trial reports of a record's ``parts`` (valid, test): ``<part>_score`` (the headline metric,
    the one ASHA and the grid selection compare) and ``<part>_<metric>``; N@5 beside H@5 under loo."""
    out = {}
    for part in parts:
        out[f"{part}_score"] = out[f"{part}_{headline}"] = record[part][headline]
        if headline == "H@5":
            out[f"{part}_N@5"] = record[part]["N@5"]
    return out


def summary_table(trials, results):
    """Markdown: one row per trial; a grid's best validation point per (run, dataset, split seed) marked."""
    best = {}
    for t in trials:
        r = results.get(t.name)
        if r and "valid_score" in r:
            group = (t.run, t.dataset, t.split_seed)
            if group not in best or r["valid_score"] > results[best[group]]["valid_score"]:
                best[group] = t.name
    several = {g for g in best if sum((t.run, t.dataset, t.split_seed) == g for t in trials) > 1}
    lines = ["| trial | state | epochs | selected on | valid | test | wall s |", "|---|---|---|---|---|---|---|"]
    for t in trials:
        r = results.get(t.name, {})
        mark = " (best valid)" if (t.run, t.dataset, t.split_seed) in several and best.get(
            (t.run, t.dataset, t.split_seed)) == t.name else ""
        cells = [r.get("state", t.state), r.get("epochs", ""), headline_of(t.argv),
                 *(f"{r[k]:.4f}" if k in r else "" for k in ("valid_score", "test_score")),
                 f"{r['wall_s']:.0f}" if "wall_s" in r else ""]
        lines.append(f"| {t.dataset}/{t.name}{mark} | " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def finished_metrics(trial):
    """The selected validation and test headline metric and epochs of a trial's finished log."""
    import json
    with open(trial.log) as f:
        final = json.loads(f.readlines()[-1]).get("final", {})
    return {"state": "done before", "epochs": final.get("epochs_run", ""),
            **(headline_metrics(final, headline_of(trial.argv), ("valid", "test")) if "test" in final else {})}


def asha_scheduler(grace):
    """Tune's ASHA on the per-epoch validation headline metric (H@5; a protocol's --select), time in
    evaluated epochs: at each rung (grace,
    grace x 3, grace x 9, ...) a trial below the best third of those that reached it is stopped. No
    last rung: a trial that passes them all ends as its early stopping says."""
    from ray.tune.schedulers import ASHAScheduler
    return ASHAScheduler(time_attr="training_iteration", metric="valid_score", mode="max", grace_period=grace,
                         max_t=10 ** 9, reduction_factor=3)


def execute(trials, address=None, cpus=None, cpus_per_run=1, gpus_per_run=0, max_failures=2, storage=None,
            scheduler=None, time_budget=None):
    """Run the trials not done as Ray Tune trials -> {trial name: result metrics and state}.
    ``scheduler``: a Tune scheduler (``asha_scheduler``) that may stop trials early; none by default.
    ``time_budget``: seconds after which Tune stops every trial still running (each keeps its resume
    file: the same command continues them), for a machine lent for a fixed time."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise InputError("Ray is not installed: pip install -r requirements-ray.txt") from None

    class Lines(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            print(f"{time.strftime('%H:%M:%S')} started   {trial.config['trial']['label']}", flush=True)

        def on_trial_complete(self, iteration, trials, trial, **info):
            ended = "finished " if (trial.last_result or {}).get("finished") else "stopped  "
            print(f"{time.strftime('%H:%M:%S')} {ended} {trial.config['trial']['label']}", flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            print(f"{time.strftime('%H:%M:%S')} failed    {trial.config['trial']['label']}", flush=True)

        def on_trial_recover(self, iteration, trials, trial, **info):
            print(f"{time.strftime('%H:%M:%S')} retrying  {trial.config['trial']['label']} (continues its last saved epoch)",
                  flush=True)

    todo = [t for t in trials if t.state != "done"]
    results = {t.name: finished_metrics(t) for t in trials if t.state == "done"}
    if not todo:
        return results
    # Ray starts its workers at nice 15; a training run deserves the priority it has when typed by hand
    # (a cluster's workers take theirs from the environment of `ray start`: docs/experiments.md)
    os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(address=address, num_cpus=None if address else cpus, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True, runtime_env={"env_vars": {"PYTHONPATH": ROOT}},
             object_store_memory=None if address else 200 * 2 ** 20)     # trials pass no data through it
    configs = [{"root": ROOT, "module": t.module, "argv": t.argv, "label": f"{t.dataset}/{t.name}",
                "resume": os.path.abspath(t.resume)} for t in todo]
    trainable = tune.with_resources(run_trial, {"cpu": cpus_per_run, "gpu": gpus_per_run})
    tuner = tune.Tuner(trainable, param_space={"trial": tune.grid_search(configs)},
                       tune_config=tune.TuneConfig(trial_name_creator=lambda tr: tr.config["trial"]["label"]
                                                   .replace("/", "-"), scheduler=scheduler,
                                                   time_budget_s=time_budget),
                       run_config=tune.RunConfig(name=f"experiments_{time.strftime('%Y%m%d_%H%M%S')}",
                                                 storage_path=storage or os.path.join(ROOT, "runs", "ray"),
                                                 failure_config=tune.FailureConfig(max_failures=max_failures),
                                                 callbacks=[Lines()], verbose=0))
    grid = tuner.fit()
    for result in grid:
        name = result.config["trial"]["label"].split("/", 1)[1]
        metrics = dict(result.metrics or {})
        state = "failed" if result.error else "finished" if metrics.get("finished") else (
            f"stopped early at epoch {metrics.get('epoch')} (resume file kept)")
        results[name] = {**{k: v for k, v in metrics.items() if k in ("epochs", "wall_s") or
                            k.startswith(("valid_", "test_"))}, "state": state}
        if not metrics.get("finished"):              # that epoch's, not a selected result
            results[name] = {k: v for k, v in results[name].items() if not k.startswith("valid_")}
    return results


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("runs", nargs="+", help="registered run names (python -m Utils.registry list)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="split seeds (--LOO_seed)")
    p.add_argument("--dataset", nargs="+", default=["citeULike"], help="dataset folders under --data_path")
    p.add_argument("--grid", nargs="*", default=[], help="FLAG=v1,v2,... (one axis each; their product)")
    p.add_argument("--log_path", default=DEFAULT_LOG_PATH,
                   help="every trial's --log_path, shared by every node (reference runs: logs/)")
    p.add_argument("--address", default=None, help="a running Ray cluster (auto: the local one); none: start one")
    p.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray (all by default)")
    p.add_argument("--cpus_per_run", type=float, default=1, help="CPUs each trial holds (and --num_threads)")
    p.add_argument("--gpus_per_run", type=float, default=0, help="GPU share each trial holds (0.1: ten per GPU)")
    p.add_argument("--storage", default=None,
                   help="Tune's folder for trial results and checkpoints (default runs/ray; on a cluster one "
                        "every node reaches, or a URI Ray supports)")
    p.add_argument("--max_failures", type=int, default=2, help="retries of a failed trial (each continues it)")
    p.add_argument("--asha", action="store_true",
                   help="stop hopeless grid points early with Tune's ASHA on the per-epoch validation headline metric "
                        "(changes which points finish: docs/experiments.md)")
    p.add_argument("--asha_grace", type=int, default=20, help="evaluated epochs before ASHA's first cut")
    p.add_argument("--time_budget", type=float, default=None,
                   help="seconds after which every trial still running is stopped, resumable (a lent machine)")
    p.add_argument("--dry_run", action="store_true", help="print the plan and stop")
    a = p.parse_args(argv)
    threads = ["--num_threads", str(max(1, int(a.cpus_per_run)))] if "--num_threads" not in extra else []
    trials = plan(a.runs, a.seeds, a.dataset, parse_grid(a.grid), a.log_path, [*threads, "--quiet", *extra])
    for t in trials:
        print(f"{t.state:10s} {t.dataset}/{t.name}: python {t.module}.py {' '.join(t.argv)}")
    if a.dry_run:
        return {}
    scheduler = asha_scheduler(a.asha_grace) if a.asha else None
    results = execute(trials, a.address, a.cpus, a.cpus_per_run, a.gpus_per_run, a.max_failures,
                      storage=a.storage, scheduler=scheduler, time_budget=a.time_budget)
    print(summary_table(trials, results))
    failed = [name for name, r in results.items() if r.get("state") == "failed"]
    if failed:
        raise InputError(f"trials failed: {', '.join(failed)}")
    return results


if __name__ == "__main__":
    run_cli(main)
