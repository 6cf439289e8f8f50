"""What the experiment runner costs and gains: two one-thread student runs (CiteULike, split seed 0, training
seeds 1 and 2, ``--max_epoch`` E) typed by hand one after the other, against the same two as trials of
``python -m Utils.experiments`` at once on a local Ray.

    python benchmarks/runner_overhead.py [--epochs 30]

Prints a table: the wall time of each way and each run's mean epoch time (from its log). Run it on an
otherwise idle machine.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mean_epoch_s(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".jsonl"):
            with open(os.path.join(folder, name)) as f:
                out[name[:-6]] = json.loads(f.readlines()[-1])["final"]["mean_epoch_s"]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=30, help="--max_epoch of each run")
    a = p.parse_args()
    flags = ["--max_epoch", str(a.epochs), "--num_threads", "1", "--quiet", "--save", "0"]
    by_hand, runner = tempfile.mkdtemp(), tempfile.mkdtemp()
    start = time.perf_counter()
    walls = []
    for seed in (1, 2):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "main_teacher.py", "--dim", "20", "--seed", str(seed), "--log_path", by_hand,
                        *flags], cwd=ROOT, check=True)
        walls.append(time.perf_counter() - t0)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "Utils.experiments", "student", "--grid", "seed=1,2", "--log_path", runner,
                    "--cpus", "2", "--", *flags], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    together = time.perf_counter() - start
    hand, ray = mean_epoch_s(os.path.join(by_hand, "citeULike")), mean_epoch_s(os.path.join(runner, "citeULike"))
    print("| way | wall s | mean epoch s (seed 1, seed 2) |\n|---|---|---|")
    print(f"| by hand, one after the other | {sequential:.1f} ({walls[0]:.1f} + {walls[1]:.1f}) | "
          + ", ".join(f"{v:.3f}" for v in hand.values()) + " |")
    print(f"| Utils.experiments, both at once (local Ray, 2 CPUs) | {together:.1f} | "
          + ", ".join(f"{v:.3f}" for v in ray.values()) + " |")


if __name__ == "__main__":
    main()
