"""What a results row says of a finished run, read from its log's final record: the selected epochs, test
and validation H@5 / N@5 (under the full-ranking protocols Recall and NDCG at every cutoff, as their tables),
the pieces it ran in (commit, device, threads, start, epochs), its wall time, and for DE-like runs the time of
the epochs that computed every expert against the others.

    python scripts/run_facts.py logs/foursquare/DE_LOO2.jsonl [more logs]
    python scripts/run_facts.py RUNNER/logs/foursquare/NeuMF_DE_teacher_reg0.jsonl.*.part     # a run in progress

A log without a final record (a run in progress, or one stopped: its ``.jsonl.<pid>.part``) is reported as
progress instead: the epochs logged; the best validation H@5 so far and how many epochs ago (under the
full-ranking protocols, which select on one metric, the epoch selected so far: the last one logged as
improved, with its validation metrics); the last epoch the run logged as improved and how many evaluations
since (early stopping's patience counts from it: under leave-one-out an improvement of any H@N resets it, so
it can be later than the best H@5); and the last epochs' times and schedule.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from Utils.errors import InputError                      # noqa: E402
from Utils.reporting.logs import read_jsonl_log           # noqa: E402

DENSE = 0.999       # an epoch whose schedule computed at least this share of the expert pairs


def epoch_seconds(record):
    return record.get("train_s", 0.0) + record.get("eval_s", 0.0) + record.get("sample_s", 0.0)


def head_metrics(metrics):
    """The metrics a results row gives: under leave-one-out ("H@K", "N@K") at the smallest cutoff K; under the
    full-ranking protocols (their metrics include Recall) R@K and N@K at every cutoff, as their tables do."""
    cutoffs = sorted({int(name.split("@")[1]) for name in metrics})
    if any(name.startswith("R@") for name in metrics):
        return tuple(f"{m}@{k}" for k in cutoffs for m in ("R", "N") if f"{m}@{k}" in metrics)
    return f"H@{cutoffs[0]}", f"N@{cutoffs[0]}"


def metric_line(split, metrics, names):
    return f"  {split}: " + " / ".join(f"{name} {metrics[name]:.4f}" for name in names)


def epoch_times(epochs):
    """Lines on the all-expert epochs' times and the others' mean."""
    lines = []
    dense = [r for r in epochs if r.get("schedule", {}).get("pairs_computed", 0) >= DENSE]
    light = [r for r in epochs if r not in dense]
    if dense:
        times = [epoch_seconds(r) for r in dense]
        lines.append(f"  {len(dense)} all-expert epochs: {min(times):.0f}-{max(times):.0f} s (epoch "
                     f"{dense[0]['epoch']}: {times[0]:.0f} s)")
    if light:
        lines.append(f"  {len(light)} {'other ' if dense else ''}epochs: mean "
                     f"{sum(map(epoch_seconds, light)) / len(light):.1f} s")
    return lines


def progress(path, epochs, last=3):
    """A run without a final record: epochs logged, the best validation so far (the first of ties), the
    last ``last`` epochs' times and schedules."""
    evaluated = [r for r in epochs if "valid" in r]
    if not evaluated:
        raise InputError(f"{path}: no evaluated epoch logged yet")
    names = head_metrics(evaluated[0]["valid"])
    first, latest = epochs[0]["epoch"], epochs[-1]["epoch"]
    improved = [r for r in evaluated if r.get("improved")]
    if names[0].startswith("R@"):     # one selection metric, not named in the log: the last improved epoch is its best
        if not improved:
            raise InputError(f"{path}: no epoch logged as improved yet")
        best = improved[-1]
        lines = [f"{path}: unfinished, epochs {first}-{latest} logged, selected so far: epoch {best['epoch']} "
                 f"(epochs since: {latest - best['epoch']})", metric_line("valid", best["valid"], names)]
    else:
        h = names[0]
        best = max(evaluated, key=lambda r: (r["valid"][h], -r["epoch"]))
        lines = [f"{path}: unfinished, epochs {first}-{latest} logged, best valid {h} {best['valid'][h]:.4f} "
                 f"at epoch {best['epoch']} (epochs since: {latest - best['epoch']})"]
    if improved:
        since = sum(r["epoch"] > improved[-1]["epoch"] for r in evaluated)
        lines.append(f"  last logged improvement (early stopping's patience counts from it): epoch "
                     f"{improved[-1]['epoch']}, {since} evaluation(s) since")
    for r in epochs[-last:][::-1]:
        schedule = ", ".join(f"{k} {v:.3g}" for k, v in r.get("schedule", {}).items())
        lines.append(f"  epoch {r['epoch']}: {epoch_seconds(r):.0f} s" + (f" ({schedule})" if schedule else ""))
    return "\n".join(lines + epoch_times(epochs))


def facts(path):
    run = read_jsonl_log(path)
    final = run.final
    if not final:
        if not run.epochs:
            raise InputError(f"{path}: no epoch and no final record")
        return progress(path, run.epochs)
    lines = [f"{path}: {final['epochs_run']} epochs ({final.get('stopped', '?')}), selected epoch per cutoff "
             f"{final['best_epoch']}, checkpoint epoch {final.get('checkpoint_epoch')}, "
             f"wall {final['total_s'] / 60:.1f} min"]
    names = head_metrics(final["test"])
    lines += [metric_line(split, final[split], names) for split in ("test", "valid")]
    for piece in final.get("pieces") or []:
        lines.append(f"  piece: commit {piece['commit']}, {piece['device']}, {piece.get('threads')} thread(s), "
                     f"torch {piece.get('torch')}, started {piece['started']}, epochs {piece['first_epoch']}-"
                     f"{piece['last_epoch']}")
    return "\n".join(lines + epoch_times(run.epochs))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", help="*.jsonl logs (or the .part log of a run in progress)")
    args = parser.parse_args(argv)
    try:
        for path in args.logs:
            print(facts(path))
    except InputError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
