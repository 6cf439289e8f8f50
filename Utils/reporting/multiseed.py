"""Tables over split seeds x training seeds: the mean over training seeds within each split, then over splits,
with gains paired by split and a confidence interval; optionally at a fixed epoch budget.

    python -m Utils.reporting.multiseed --methods student DE URRD DERRD --splits 0 1 2 --train_seeds 0 1 2 3 4
    python -m Utils.reporting.multiseed --methods student FTD --budget 100       # the fixed-budget view
    python -m Utils.reporting.multiseed --protocol kds --methods student_kds URRD_kds_toolkit --splits 0

Under ``--protocol kds|hetcomp`` (docs/protocols.md) the columns are the protocol's Recall and NDCG at its
cut-offs and only runs recorded under that protocol count.

The tables are printed; ``--out FILE`` also writes them to FILE. Only an explicit ``--out`` writes, so a query
over a few methods never replaces a committed table (docs/results.md names each committed table's command).

A run's log is ``<name>[_LOO<split>][_seed<training seed>]`` under ``--log_dir`` (seed 0 and split 0 carry
no suffix). For each method and split the test metrics are averaged over the training seeds found; the
table's value is the mean of those split means (its ± is their sample standard deviation over splits).
A method's gain over the baseline is, per split, the difference of the two split means, then averaged
over the splits both have; its 95% confidence interval is Student's t over those per-split gains (two or
more splits), or Welch's over the two methods' runs when there is one split with two or more runs each.
A gain row is marked with a dagger where, on some split, the method's runs learned from another teacher
checkpoint than the baseline's (the fingerprints the logs record); a line under the table names the splits.

``--budget B`` replaces each run's selection by the one it would have made had it stopped after B epochs:
per cut-off N, the epoch below B with the best validation H@N (strictly better, the first of ties), as the
protocol selects; a run that ran fewer epochs keeps its own selection.
"""
import argparse
import os
import sys

import numpy as np
from scipy import stats

from Utils.atomic import write_text_atomic
from Utils.errors import InputError, run_cli
from Utils.paper import KEYS
from Utils.registry import RUNS, TABLE_RUNS
from Utils.reporting.logs import OTHER_TEACHER, read_jsonl_log
from Utils.reporting.results import intended_configuration
from Utils.training.evaluation import CUTOFFS
from Utils.training.protocols import PROTOCOLS, parse_cutoffs

CONFIDENCE = 0.95


def log_name(method, split, train_seed):
    """``DE``, ``DE_LOO1``, ``DE_seed2``, ``DE_LOO1_seed2``: the run names the entry scripts give."""
    if method in RUNS:
        return RUNS[method].log_name(split, train_seed)
    return method + (f"_LOO{split}" if split else "") + (f"_seed{train_seed}" if train_seed else "")


def budget_selection(epochs, budget):
    """Test metrics of the per-N validation selection among the epoch records below ``budget``
    (``epochs``: a RunLog's records). -> {metric: value}, or None when no epoch below it was evaluated."""
    evaluated = [r for r in epochs if r["epoch"] < budget and "valid" in r]
    if not evaluated:
        return None
    test = {}
    for n in CUTOFFS:
        best = max(evaluated, key=lambda r: (r["valid"][f"H@{n}"], -r["epoch"]))   # first of ties
        test.update({k: v for k, v in best["test"].items() if k.endswith(f"@{n}")})
    return test


def protocol_keys(protocol):
    """The columns of a protocol's table: the paper's under loo, Recall and NDCG at each cut-off otherwise."""
    if protocol == "loo":
        return KEYS
    return tuple(f"{m}@{k}" for k in parse_cutoffs(PROTOCOLS[protocol]["cutoffs"]) for m in ("R", "N"))


def collect_runs(log_dir, methods, splits, train_seeds, budget=None, protocol="loo"):
    """{method: {split: {training seed: test metrics}}} of the finished runs of the intended configuration
    under ``protocol`` (a run trained otherwise is left out with a note)."""
    found = {}
    for method in methods:
        for split in splits:
            for seed in train_seeds:
                path = os.path.join(log_dir, log_name(method, split, seed) + ".jsonl")
                if not os.path.isfile(path):
                    continue
                log = read_jsonl_log(path)
                if not log.final or "test" not in log.final:
                    continue
                reason = intended_configuration(log.final, split, protocol)
                if not reason and log.final.get("config", {}).get("seed", seed) != seed:
                    reason = f"training seed {log.final['config']['seed']}"
                if reason:
                    print(f"note: {path} left out (trained with {reason})", file=sys.stderr)
                    continue
                metrics = log.final["test"]
                if budget is not None and log.final.get("epochs_run", budget + 1) > budget:
                    metrics = budget_selection(log.epochs, budget)
                    if metrics is None:
                        continue
                found.setdefault(method, {}).setdefault(split, {})[seed] = metrics
    return found


def run_teachers(log_dir, found):
    """{(method, split): the set of teacher fingerprints its runs found recorded} (runs without one, such as
    students or logs from before the fingerprint was recorded, add nothing)."""
    teachers = {}
    for method, by_split in found.items():
        for split, runs in by_split.items():
            for seed in runs:
                teacher = read_jsonl_log(os.path.join(log_dir, log_name(method, split, seed) + ".jsonl")).teacher
                if teacher is not None:
                    teachers.setdefault((method, split), set()).add(teacher)
    return teachers


def split_means(by_split, keys=KEYS):
    """{split: (runs, [mean of each key over its training seeds])}."""
    return {s: (len(runs), np.array([[m[k] for k in keys] for m in runs.values()]).mean(0))
            for s, runs in sorted(by_split.items())}


def summary(found, keys=KEYS):
    """{method: (splits, runs, mean over splits [k], sample std over splits [k])}."""
    out = {}
    for method, by_split in found.items():
        means = split_means(by_split, keys)
        values = np.array([m for _, m in means.values()])
        std = values.std(0, ddof=1) if len(values) > 1 else np.zeros(len(keys))
        out[method] = (sorted(means), sum(n for n, _ in means.values()), values.mean(0), std)
    return out


def paired_gain(method_runs, baseline_runs, keys=KEYS, confidence=CONFIDENCE):
    """The method's gain over the baseline: (splits used, mean gain [k], lower [k], upper [k]); the bounds are
    NaN where no interval can be formed (one split with a single run on either side)."""
    splits = sorted(set(method_runs) & set(baseline_runs))
    if not splits:
        return None
    runs = {name: {s: np.array([[m[k] for k in keys] for m in side[s].values()]) for s in splits}
            for name, side in (("method", method_runs), ("baseline", baseline_runs))}
    gains = np.array([runs["method"][s].mean(0) - runs["baseline"][s].mean(0) for s in splits])
    mean = gains.mean(0)
    if len(splits) > 1:
        half = stats.t.ppf((1 + confidence) / 2, len(splits) - 1) * gains.std(0, ddof=1) / np.sqrt(len(splits))
    else:
        a, b = runs["method"][splits[0]], runs["baseline"][splits[0]]
        if len(a) < 2 or len(b) < 2:
            return splits, mean, np.full(len(keys), np.nan), np.full(len(keys), np.nan)
        va, vb = a.var(0, ddof=1) / len(a), b.var(0, ddof=1) / len(b)
        with np.errstate(invalid="ignore", divide="ignore"):      # a metric equal in every run: no spread
            df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
            half = np.where(va + vb > 0, stats.t.ppf((1 + confidence) / 2, df) * np.sqrt(va + vb), 0.0)
    return splits, mean, mean - half, mean + half


def tables(found, baseline, keys=KEYS, budget=None, teachers=None):
    """Markdown: the summary table, then the paired gains over ``baseline`` (when it is among the runs).

    ``teachers`` (``run_teachers``): a gain row whose method learned from another teacher checkpoint than
    the baseline on some split is marked with a dagger and a line below the table names those splits."""
    teachers = teachers or {}
    what = f" after {budget} epochs" if budget is not None else ""
    lines = [f"| method{what} | splits | runs | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 3)]
    for method, (splits, runs, mean, std) in summary(found, keys).items():
        cells = [f"{m:.4f} ± {s:.4f}" if len(splits) > 1 else f"{m:.4f}" for m, s in zip(mean, std)]
        lines.append(f"| {method} | {', '.join(map(str, splits))} | {runs} | " + " | ".join(cells) + " |")
    if baseline in found:
        lines += ["", f"| gain over the {baseline}{what} (paired by split; {CONFIDENCE:.0%} interval) | splits | "
                  + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 2)]
        notes = []
        for method in found:
            if method == baseline:
                continue
            gain = paired_gain(found[method], found[baseline], keys)
            if gain is None:
                continue
            splits, mean, low, high = gain
            cells = [f"{m:+.4f}" + ("" if np.isnan(lo) else f" [{lo:+.4f}, {hi:+.4f}]")
                     for m, lo, hi in zip(mean, low, high)]
            other = [s for s in splits if teachers.get((method, s)) and teachers.get((baseline, s))
                     and teachers[method, s] != teachers[baseline, s]]
            if other:
                notes.append(f"{OTHER_TEACHER} {method}: on split {', '.join(map(str, other))} its runs learned from another "
                             f"teacher checkpoint than the {baseline}'s, so the gain there compares teachers too.")
            lines.append(f"| {method}{OTHER_TEACHER if other else ''} | {', '.join(map(str, splits))} | "
                         + " | ".join(cells) + " |")
        lines += [""] + notes if notes else []
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--log_dir", default="logs/citeULike", help="folder of the JSON-lines logs (one dataset)")
    p.add_argument("--methods", nargs="+", default=list(TABLE_RUNS), help="registered run names, one row each")
    p.add_argument("--splits", nargs="+", type=int, default=[0, 1, 2], help="split seeds (LOO_seed)")
    p.add_argument("--train_seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4], help="training seeds (--seed)")
    p.add_argument("--baseline", default="student", help="the gains are each method minus this run, per split")
    p.add_argument("--budget", type=int, default=None,
                   help="select each run as if it had stopped after this many epochs (the fixed-budget view)")
    p.add_argument("--protocol", choices=list(PROTOCOLS), default="loo",
                   help="the runs' protocol: its metrics are the columns (docs/protocols.md)")
    p.add_argument("--out", default=None, help="also write the tables to this markdown file (default: print only)")
    a = p.parse_args(argv)
    if a.budget is not None and a.budget < 1:
        raise InputError(f"--budget must be at least 1, got {a.budget}")
    if a.budget is not None and a.protocol != "loo":
        raise InputError("--budget re-selects by the paper's per-N rule: leave-one-out runs only (--protocol loo)")
    found = collect_runs(a.log_dir, a.methods, a.splits, a.train_seeds, a.budget, a.protocol)
    if not found:
        raise InputError(f"no finished logs for {a.methods} in {a.log_dir}")
    keys = protocol_keys(a.protocol)
    text = tables(found, a.baseline, keys=keys, budget=a.budget, teachers=run_teachers(a.log_dir, found))
    if a.out:
        write_text_atomic(a.out, text)
    print(text)


if __name__ == "__main__":
    run_cli(main)
