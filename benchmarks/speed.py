"""Speed and memory of the training loop: seconds per epoch and peak memory per method.

    python benchmarks/speed.py                       # all, 3 epochs each, this machine's threads
    python benchmarks/speed.py --dataset foursquare --which student URRD RD CD
    python benchmarks/speed.py --which student DE --epochs 5 --device cuda

Each method runs in its own process (so peak RSS is its own) through the real entry script, with
logs and checkpoints written to a temporary folder; the teacher checkpoint in Saved_models/ is
used when present (``main_teacher.py`` makes it). Prints a markdown table for docs/speed.md.

DE's temperature anneals over ``--max_epoch``, which is ``--epochs`` here: with 3 epochs, epoch 2 runs at
T = 4.6e-4, its selection already nearly one-hot, so it computes only the selected pairs. A method that logs
the share of expert pairs it computed (``schedule.pairs_computed``) therefore gets two rows, its all-expert
epochs and its other ones, never their mean.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from Utils.registry import RUNS  # noqa: E402

def single(name, epochs, device, threads, split_seed=0, dataset="citeULike"):
    """Run one method for ``epochs`` epochs in this process; print a JSON line of timings."""
    import importlib
    import torch
    from Utils.data.candidates import load_or_sample_candidates
    from Utils.data.dataset import load_split
    from Utils.training.evaluation import Evaluator
    from Models.BPR import BPR
    if threads:
        torch.set_num_threads(threads)
    module, extra = RUNS[name].script[:-3], list(RUNS[name].flags)
    tmp = tempfile.mkdtemp()
    start = time.perf_counter()
    no_save = ["--save", "0"] if module == "main_teacher" else []
    importlib.import_module(module).main(
        ["--max_epoch", str(epochs), "--quiet", "--device", device, "--log_path", tmp, "--run_name", "bench",
         "--LOO_seed", str(split_seed), "--dataset", dataset]
        + no_save + extra)
    wall = time.perf_counter() - start
    records = [json.loads(line) for line in open(os.path.join(tmp, dataset, "bench.jsonl"))][:-1]
    train = [r["sample_s"] + r["train_s"] for r in records]
    evals = [r["eval_s"] for r in records]
    out = {"method": name, "epochs": epochs, "train_s": sum(train) / len(train), "eval_s": sum(evals) / len(evals),
           "setup_s": wall - sum(train) - sum(evals),
           "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    out["rows"] = [(name, out["train_s"], out["eval_s"])]
    shares = [r.get("schedule", {}).get("pairs_computed") for r in records]
    if all(share is not None for share in shares):         # DE-like: all-expert epochs apart from the others
        kinds = {"all-expert epochs": [i for i, share in enumerate(shares) if share >= 0.999],
                 "selected-pair epochs": [i for i, share in enumerate(shares) if share < 0.999]}
        out["rows"] = [(f"{name}, {kind} ({len(picked)})", sum(train[i] for i in picked) / len(picked),
                        sum(evals[i] for i in picked) / len(picked)) for kind, picked in kinds.items() if picked]
    if name == "student":   # one evaluation pass over all users, averaged
        split = load_split("data", dataset, split_seed)
        evaluator = Evaluator(split, load_or_sample_candidates(split, split_seed, 499, "Saved_models"),
                              torch.device(device))
        model = BPR(split.n_users, split.n_items, 20).to(device)
        evaluator.evaluate(model)
        t = time.perf_counter()
        for _ in range(10):
            evaluator.evaluate(model)
        out["eval_pass_s"] = (time.perf_counter() - t) / 10
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--which", nargs="+", default=["student", "teacher", "DE", "URRD", "IR_RRD", "RD", "CD"],
                   choices=list(RUNS))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--split_seed", type=int, default=0,
                   help="--LOO_seed of the runs (any split of a dataset has the same size; pick one whose "
                        "teacher is in Saved_models/)")
    p.add_argument("--dataset", default="citeULike", help="the --dataset of the runs")
    p.add_argument("--single", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    os.chdir(ROOT)
    if a.single:
        return single(a.single, a.epochs, a.device, a.threads, a.split_seed, a.dataset)
    rows = []
    for name in a.which:
        out = subprocess.run([sys.executable, __file__, "--single", name, "--epochs", str(a.epochs), "--device",
                              a.device, "--threads", str(a.threads), "--split_seed", str(a.split_seed),
                              "--dataset", a.dataset],
                             capture_output=True, text=True)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"| method ({a.dataset}, {a.device}, {a.epochs} epochs) | train s/epoch | eval s/epoch | epoch total s | set-up s | peak MB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        for method, train, evals in r["rows"]:
            print(f"| {method} | {train:.2f} | {evals:.3f} | {train + evals:.2f} | {r['setup_s']:.1f} | "
                  f"{r['peak_mb']:.0f} |")
    for r in rows:
        if "eval_pass_s" in r:
            print(f"\none evaluation pass (valid + test, every user, 500 candidates, dim 20): {r['eval_pass_s']:.3f} s")


if __name__ == "__main__":
    main()
