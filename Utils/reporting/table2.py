"""The DE-RRD paper's Table 2 (methods x (dataset, base model)) from our JSON-lines logs, beside the paper's.

    python -m Utils.reporting.table2                         # logs/<dataset>/, split seeds 0 1 2, printed
    python -m Utils.reporting.table2 --out logs/table2.md --into README.md docs/results.md
                                                             # the committed table and its two copies

Each of our cells is the mean test H@5 / N@5 over the finished runs of the intended configuration
on the given split seeds, with how many runs it averages; a cell with no run says so. A cell marked
with a dagger averages a run that learned from another teacher checkpoint than the other methods of its
column on that split did, or than the Teacher row's run saved (the fingerprints the logs record: a
distillation run its teacher's, ``identity``; a teacher run its checkpoint's): a teacher retrained on
another machine, say, whose cell the prose beside the table must explain. The
paper's Foursquare columns come from its own (non-public) file.
"""
import argparse
import os
from collections import Counter

import numpy as np

from Utils.atomic import write_text_atomic
from Utils.errors import InputError, run_cli
from Utils.paper import PAPER_TABLE2_ALL
from Utils.registry import TABLE2_COLUMNS, TABLE2_LABELS, TABLE2_ROWS, table2_run
from Utils.reporting.logs import OTHER_TEACHER, read_jsonl_log
from Utils.reporting.results import collect, log_name

LABELS = {"citeULike": "CiteULike", "foursquare": "Foursquare", "bpr": "BPR", "neumf": "NeuMF"}


def our_cell(found, other_teacher=False):
    """{seed: test metrics} -> 'H@5 / N@5 (n)' (a dagger after it with ``other_teacher``), or 'not run yet'."""
    if not found:
        return "not run yet"
    h5, n5 = (np.mean([m[k] for m in found.values()]) for k in ("H@5", "N@5"))
    return f"{h5:.4f} / {n5:.4f} ({len(found)})" + (OTHER_TEACHER if other_teacher else "")


def taught_by_another(fingerprints, column_teacher=None):
    """{row: teacher fingerprint} of one column and split -> the rows that learned from another teacher than
    ``column_teacher`` (the fingerprint the Teacher row's log records of its checkpoint) or, where that log
    records none, than the one most of the rows share (every row when none is the most common alone)."""
    counts = Counter(fingerprints.values()).most_common()
    if column_teacher is None and counts:
        column_teacher = counts[0][0] if len(counts) == 1 or counts[0][1] > counts[1][1] else None
    return {row for row, fingerprint in fingerprints.items() if fingerprint != column_teacher}


def paper_cell(values):
    return " / ".join("-" if v is None else f"{v:.4f}" for v in values[:2])


def table2(log_root, seeds):
    head = "| method | " + " | ".join(f"{LABELS[d]} {LABELS[m]}: ours | paper" for d, m in TABLE2_COLUMNS) + " |"
    lines = [head, "|---|" + "---|---|" * len(TABLE2_COLUMNS)]
    found, marked = {}, set()                       # {(row, column): {seed: test metrics}}, (row, column)s
    for column in TABLE2_COLUMNS:
        log_dir = os.path.join(log_root, column[0])
        for row in TABLE2_ROWS:
            name = table2_run(row, column[1])
            found[row, column] = collect(log_dir, [name], seeds).get(name, {})
        for seed in seeds:
            logs = {row: read_jsonl_log(os.path.join(log_dir, log_name(table2_run(row, column[1]), seed) + ".jsonl"))
                    for row in TABLE2_ROWS if seed in found[row, column]}
            fingerprints = {row: log.teacher for row, log in logs.items() if log.teacher is not None}
            column_teacher = logs["Teacher"].weights if "Teacher" in logs else None
            marked |= {(row, column) for row in taught_by_another(fingerprints, column_teacher)}
    for row in TABLE2_ROWS:
        cells = []
        for column in TABLE2_COLUMNS:
            cells += [our_cell(found[row, column], (row, column) in marked),
                      paper_cell(PAPER_TABLE2_ALL[column][row])]
        lines.append(f"| {TABLE2_LABELS.get(row, row)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def replace_table(text, table, where):
    """``text`` with the markdown table that starts with ``table``'s header line replaced by ``table``.

    The block ends at the first line that is not a table row; ``where`` names the file in the error
    raised when the header occurs other than once."""
    lines, header = text.split("\n"), table.split("\n")[0]
    starts = [i for i, line in enumerate(lines) if line == header]
    if len(starts) != 1:
        raise InputError(f"{where}: Table 2's header line found {len(starts)} times, expected once")
    end = starts[0]
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[:starts[0]] + table.rstrip("\n").split("\n") + lines[end:])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--log_root", default="logs", help="folder holding one log folder per dataset")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="split seeds averaged")
    p.add_argument("--out", default=None, help="also write the table to this markdown file (default: print only)")
    p.add_argument("--into", nargs="+", default=[], metavar="MD",
                   help="also replace the table in these markdown files (its header line must occur once in each)")
    a = p.parse_args(argv)
    datasets = sorted({dataset for dataset, _ in TABLE2_COLUMNS})
    if not any(os.path.isdir(os.path.join(a.log_root, d)) for d in datasets):
        raise InputError(f"--log_root {a.log_root}: no log folder of {' or '.join(datasets)} in it")
    text = table2(a.log_root, a.seeds)
    updated = {}
    for path in a.into:                             # every file checked before any is written
        if not os.path.isfile(path):
            raise InputError(f"--into {path}: no such file")
        with open(path) as f:
            updated[path] = replace_table(f.read(), text, path)
    if a.out:                                       # only when asked: `--seeds 0` must not replace the table
        write_text_atomic(a.out, text)
    for path, new_text in updated.items():
        write_text_atomic(path, new_text)
    print(text)


if __name__ == "__main__":
    run_cli(main)
