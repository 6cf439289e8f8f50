"""Result tables from the JSON-lines logs alone: one run per row, or mean and std over split seeds.

    python -m Utils.reporting.results --methods teacher student DE URRD DERRD --seeds 0 1 2          # tables
    python -m Utils.experiments teacher student URRD --seeds 1 2 --log_path logs/ && python -m Utils.reporting.results ...
                                                      # run what is missing first (Utils/experiments.py), then tables

Prints the markdown for docs/results.md (the mean ± std table, then each method's gain over the student paired
by split); ``--out STEM`` also writes it to ``STEM.md`` with the means and stds in ``STEM.csv``. Only an explicit
``--out`` writes, so a query over a few methods never replaces a committed table
(``--out logs/citeULike/results_seeds`` regenerates the committed one).
"""
import argparse
import csv
import io
import os
import sys

import numpy as np

from Utils.atomic import write_text_atomic
from Utils.training.config import TRAINING_FLAGS, training_defaults
from Utils.errors import InputError, run_cli
from Utils.reporting.logs import read_jsonl_log
from Utils.paper import KEYS, italic_cell, reference_rows
from Utils.registry import RUNS, TABLE_RUNS, paper_row

def log_name(method, seed):
    """The log of a registered run on a split seed; other names get the same suffix rule."""
    return RUNS[method].log_name(seed) if method in RUNS else method + (f"_LOO{seed}" if seed else "")


def intended_configuration(final, seed, protocol="loo"):
    """None when a finished run's recorded configuration is the table's (its protocol, split seed, the
    protocol's default training length and batches), else the reason it is left out."""
    config = final.get("config", {})
    if config.get("protocol", "loo") != protocol:
        return f"protocol {config.get('protocol')}"
    if config.get("LOO_seed", seed) != seed:
        return f"split seed {config.get('LOO_seed')}"
    defaults = training_defaults(protocol)
    changed = [f"{f} {config[f]}" for f in TRAINING_FLAGS if f in config and config[f] != defaults[f]]
    return ", ".join(changed) or None


def collect(log_dir, methods, seeds):
    """{method: {seed: final test metrics}} for the finished runs of the intended configuration found
    (a run trained otherwise is left out with a note)."""
    found = {}
    for method in methods:
        for seed in seeds:
            path = os.path.join(log_dir, log_name(method, seed) + ".jsonl")
            if os.path.isfile(path):
                final = read_jsonl_log(path).final
                if not final or "test" not in final:
                    continue
                reason = intended_configuration(final, seed)
                if reason:
                    print(f"note: {path} left out (trained with {reason})", file=sys.stderr)
                    continue
                found.setdefault(method, {})[seed] = final["test"]
    return found


def summarize(found, keys=KEYS):
    """{method: (n, mean {k}, std {k})}; std is the sample standard deviation (0 for one run)."""
    out = {}
    for method, by_seed in found.items():
        values = np.array([[m[k] for k in keys] for m in by_seed.values()])
        std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(len(keys))
        out[method] = (len(values), dict(zip(keys, values.mean(0))), dict(zip(keys, std)),
                       sorted(by_seed))
    return out


def paired_gains(found, baseline, keys=KEYS):
    """{method: (n, mean gain {k}, std {k}, wins at keys[0])}: per split seed, the method's test metric
    minus the baseline's on the same split (same candidates, same teacher), over the seeds both have."""
    out = {}
    for method, by_seed in found.items():
        seeds = sorted(set(by_seed) & set(found.get(baseline, {})))
        if method == baseline or not seeds:
            continue
        gains = np.array([[by_seed[s][k] - found[baseline][s][k] for k in keys] for s in seeds])
        std = gains.std(axis=0, ddof=1) if len(seeds) > 1 else np.zeros(len(keys))
        out[method] = (len(seeds), dict(zip(keys, gains.mean(0))), dict(zip(keys, std)),
                       int((gains[:, 0] > 0).sum()))
    return out


def gains_table(gains, baseline, keys=KEYS):
    lines = [f"| gain over the {baseline} (paired by split) | splits | " + " | ".join(keys)
             + f" | splits above the {baseline} ({keys[0]}) |", "|" + "---|" * (len(keys) + 3)]
    for method, (n, mean, std, wins) in gains.items():
        cells = [f"{mean[k]:+.4f} ± {std[k]:.4f}" if n > 1 else f"{mean[k]:+.4f}" for k in keys]
        lines.append(f"| {method} | {n} | " + " | ".join(cells) + f" | {wins} of {n} |")
    return "\n".join(lines) + "\n"


def markdown_table(summary, keys=KEYS, with_paper=True):
    head = "| method | runs (split seeds) | " + " | ".join(keys) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 2)]
    for method, (n, mean, std, seeds) in summary.items():
        cells = [f"{mean[k]:.4f} ± {std[k]:.4f}" if n > 1 else f"{mean[k]:.4f}" for k in keys]
        lines.append(f"| {method} | {n} ({', '.join(map(str, seeds))}) | " + " | ".join(cells) + " |")
        if with_paper:
            for label, ref in reference_rows(paper_row(method)).items():
                lines.append(f"| *{label}* | 1 (paper's split) | " + " | ".join(italic_cell(ref[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def csv_table(summary, keys=KEYS):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["method", "runs", "seeds"] + [f"{k} mean" for k in keys] + [f"{k} std" for k in keys])
    for method, (n, mean, std, seeds) in summary.items():
        writer.writerow([method, n, " ".join(map(str, seeds))] + [f"{mean[k]:.6f}" for k in keys]
                        + [f"{std[k]:.6f}" for k in keys])
    return buffer.getvalue()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--log_dir", default="logs/citeULike", help="folder of the JSON-lines logs (one dataset)")
    p.add_argument("--methods", nargs="+", default=list(TABLE_RUNS), help="registered run names, one row each")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="split seeds (LOO_seed) averaged")
    p.add_argument("--baseline", default="student",
                   help="the gains table: each method minus this run on the same split (when it is listed)")
    p.add_argument("--out", default=None, help="also write the tables to OUT.md and OUT.csv (default: print only)")
    args = p.parse_args(argv)
    found = collect(args.log_dir, args.methods, args.seeds)
    if not found:
        raise InputError(f"no finished logs for {args.methods} in {args.log_dir}")
    summary = summarize(found)
    text = markdown_table(summary)
    gains = paired_gains(found, args.baseline) if args.baseline in found else {}
    if gains:
        text += "\n" + gains_table(gains, args.baseline)
    if args.out:
        write_text_atomic(args.out + ".md", text)
        write_text_atomic(args.out + ".csv", csv_table(summary))
    print(text)


if __name__ == "__main__":
    run_cli(main)
