"""Same seed, same numbers: the first epochs of the reference commands, compared between two checkouts.

    python benchmarks/same_numbers.py record --repo . --out /tmp/after.json [--teacher_path DIR]
    python benchmarks/same_numbers.py compare /tmp/before.json /tmp/after.json

``record`` runs registered commands (``Utils.registry``; default the student, DE, URRD and DE-RRD; ``--runs``
names others, ``--runs all`` every registered CiteULike BPR-MF run but HetComp) of
the checkout at ``--repo`` for ``--epochs`` epochs on CPU (one thread, seed 0, logs in a temporary
folder) and writes every epoch's losses and validation/test metrics; ``compare`` prints the largest
difference per run and exits non-zero if any value differs by more than ``--tolerance``.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from Utils.registry import RUNS  # noqa: E402

DEFAULT_RUNS = ("student", "DE", "URRD", "DERRD")


def commands(names):
    """{run name: command words}: the registered commands; 'all' = every BPR-MF run but HetComp's."""
    if list(names) == ["all"]:
        names = [n for n, r in RUNS.items() if "--model" not in r.flags and r.script != "main_HetComp.py"
                 and n != "teacher"]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        sys.exit(f"unknown runs {unknown} (known: {', '.join(RUNS)})")
    return {n: RUNS[n].command() + (["--save", "0"] if RUNS[n].script == "main_teacher.py" else []) for n in names}


def record(repo, out, epochs, teacher_path, save_path, names=DEFAULT_RUNS):
    logs = tempfile.mkdtemp()
    result = {}
    for name, command in commands(names).items():
        extra = [] if command[0] == "main_teacher.py" else ["--teacher_path", teacher_path]
        subprocess.run([sys.executable, *command, "--max_epoch", str(epochs), "--num_threads", "1", "--device", "cpu",
                        "--quiet", "--log_path", logs, "--save_path", save_path, "--run_name", name, *extra],
                       cwd=repo, check=True)
        lines = [json.loads(x) for x in open(os.path.join(logs, "citeULike", f"{name}.jsonl"))]
        result[name] = [{"loss": r["loss"], "losses": r.get("losses", {}), "valid": r["valid"], "test": r["test"]}
                        for r in lines if "epoch" in r]
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


def flatten(record, prefix=""):
    if isinstance(record, dict):
        for k, v in record.items():
            yield from flatten(v, f"{prefix}{k}.")
    elif isinstance(record, list):
        for i, v in enumerate(record):
            yield from flatten(v, f"{prefix}{i}.")
    else:
        yield prefix[:-1], record


def compare(before, after, tolerance):
    a, b = json.load(open(before)), json.load(open(after))
    worst = 0.0
    print("| run | epochs | values compared | largest difference |\n|---|---|---|---|")
    for name in a:
        x, y = dict(flatten(a[name])), dict(flatten(b.get(name, {})))
        if x.keys() != y.keys():
            print(f"| {name} | {len(a[name])} | keys differ: {sorted(x.keys() ^ y.keys())[:3]} | - |")
            worst = float("inf")
            continue
        diff = max(abs(x[k] - y[k]) for k in x)
        worst = max(worst, diff)
        print(f"| {name} | {len(a[name])} | {len(x)} | {diff:.3g} |")
    return 0 if worst <= tolerance else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("record")
    r.add_argument("--repo", default=".")
    r.add_argument("--out", required=True)
    r.add_argument("--epochs", type=int, default=5)
    r.add_argument("--teacher_path", default=os.path.abspath("Saved_models"))
    r.add_argument("--save_path", default=None, help="candidates cache (default: --teacher_path)")
    r.add_argument("--runs", nargs="+", default=list(DEFAULT_RUNS), help="registered run names, or all")
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--tolerance", type=float, default=0.0)
    a = p.parse_args()
    if a.what == "record":
        return record(os.path.abspath(a.repo), os.path.abspath(a.out), a.epochs, os.path.abspath(a.teacher_path),
                      os.path.abspath(a.save_path or a.teacher_path), a.runs)
    return compare(a.before, a.after, a.tolerance)


if __name__ == "__main__":
    sys.exit(main())
