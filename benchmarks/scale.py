"""Scale: a synthetic dataset shaped like MovieLens-20M, and what every stage costs on it.

    python benchmarks/scale.py generate --out /tmp/scale_data            # writes <out>/synthetic20m/interactions.tsv
    python benchmarks/scale.py measure --data_path /tmp/scale_data       # prints the table for docs/speed.md

The data (seeded, parameters below): 138,493 users and 26,744 items as in MovieLens-20M. Each user's
number of draws is 20 + a lognormal (sigma 1.2) scaled so the draws total 20,000,263; each draw picks an
item with probability ~ (rank + 10)^-1.1 over a random ranking of the items (heavy-tailed
popularity); a user draws 1.6x its count (+8) and keeps its first `count` distinct items, so repeats
leave the total near 20 M (only users whose count nears the items' tail fall short).
The file is header-less ``user<TAB>item``, one of the supported formats.

``measure`` runs each stage in its own process (so each peak RSS is its own) on one CPU thread, and
reports wall and CPU seconds (the process's own: comparable when the machine is shared):
read + leave-one-out split, the 499 candidates, the top-500 user lists of a dim-200 teacher, 100
training batches of the student, the teacher, URRD and DE (the epoch projected from them), and one
evaluation pass (sampled, and full ranking on a user sample). Models are freshly initialised: the
costs do not depend on what they have learnt, except DE's, whose expert skipping starts once its
selection is sharp (measured here at its first, dense, epochs: the worst case).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

N_USERS, N_ITEMS, N_DRAWS = 138_493, 26_744, 20_000_263
MIN_PER_USER, ACTIVITY_SIGMA = 20, 1.2
OVERSAMPLE = 1.6           # draws per wanted item, so that repeats still leave each user its count
POPULARITY_EXPONENT, POPULARITY_OFFSET = 1.1, 10
NAME = "synthetic20m"
STAGES = ("split", "candidates", "teacher_lists", "student", "teacher", "URRD", "DE", "eval_sampled", "eval_full")


def user_activity(rng, n_users=N_USERS, total=N_DRAWS):
    """[n_users] draws per user: MIN_PER_USER + a lognormal share of the rest, summing to ``total``."""
    weights = rng.lognormal(0.0, ACTIVITY_SIGMA, n_users)
    extra = np.floor(weights / weights.sum() * (total - MIN_PER_USER * n_users)).astype(np.int64)
    extra[np.argsort(-weights)[:total - MIN_PER_USER * n_users - extra.sum()]] += 1   # exact total
    return MIN_PER_USER + extra


def item_popularity(rng, n_items=N_ITEMS):
    """[n_items] draw probabilities ~ (rank + offset)^-exponent over a random ranking."""
    ranks = rng.permutation(n_items)
    weights = (ranks + POPULARITY_OFFSET) ** -POPULARITY_EXPONENT
    return weights / weights.sum()


def generate(out, seed=0):
    rng = np.random.default_rng(seed)
    counts = user_activity(rng)
    drawn = np.ceil(counts * OVERSAMPLE).astype(np.int64) + 8
    users = np.repeat(np.arange(N_USERS, dtype=np.int64), drawn)
    items = rng.choice(N_ITEMS, size=len(users), p=item_popularity(rng))
    _, first = np.unique(users * N_ITEMS + items, return_index=True)
    first.sort()                                         # distinct pairs, by user, in draw order
    rank = np.arange(len(first)) - np.searchsorted(users[first], users[first])   # position within the user
    first = first[rank < counts[users[first]]]           # each user's first `count` distinct items
    folder = os.path.join(out, NAME)
    os.makedirs(folder, exist_ok=True)
    import pandas as pd
    path = os.path.join(folder, "interactions.tsv")
    pd.DataFrame({"user": users[first], "item": items[first]}).to_csv(path, sep="\t", header=False, index=False)
    per_user = np.bincount(users[first], minlength=N_USERS)
    print(f"{path}: {len(first):,} interactions (wanted {counts.sum():,}), "
          f"per user min {per_user.min()} median {int(np.median(per_user))} max {per_user.max()}, "
          f"items used {len(np.unique(items[first])):,}")


SPLIT_FIELDS = ("n_users", "n_items", "train_users", "train_items", "valid_item", "test_item")


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds():
    """CPU time of this process so far (user + system): comparable when the machine is shared."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stage(name, data_path, batches, full_users):
    """One stage in this process -> {stage, seconds, peak_mb, ...}."""
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    from Models.BPR import BPR
    from Models.DE import DE
    from Models.RRD import URRD
    from Models.method import Method
    from Utils.data.candidates import sample_candidates
    from Utils.data.dataset import SplitData, load_split
    from Utils.tensors.csr import build_csr
    from Utils.tensors.sampling import sample_negatives, torch_draw
    from Utils.training.evaluation import Evaluator
    from Utils.tensors.top_unobserved import top_unobserved_by
    from Utils.training.trainer import Steps, TrainingData

    device = torch.device("cpu")

    def fresh_teacher_lists(teacher):
        """Each user's top 500 unobserved items under ``teacher`` (the teacher_lists stage)."""
        pointer, observed = build_csr(split.train_users, split.train_items, split.n_users, device)
        return top_unobserved_by(teacher.score_all, split.n_users, pointer, observed, 500, device)

    cache = os.path.join(data_path, NAME, "split_cache.npz")     # the split of the first stage, for the others
    start = time.perf_counter()
    if name == "split":
        split = load_split(data_path, NAME, 0)
        np.savez(cache, **{k: getattr(split, k) for k in SPLIT_FIELDS})
        return {"stage": name, "interactions": split.n_train, "seconds": time.perf_counter() - start,
                "cpu_s": cpu_seconds(), "peak_mb": peak_mb()}
    with np.load(cache) as stored:
        split = SplitData(NAME, int(stored["n_users"]), int(stored["n_items"]),
                          *(stored[k] for k in SPLIT_FIELDS[2:]), source="benchmark cache")
    out = {"stage": name, "interactions": split.n_train}
    setup_mb, setup_cpu = peak_mb(), cpu_seconds()
    start = time.perf_counter()
    if name == "candidates":
        sample_candidates(split, 0, 499)
    elif name == "teacher_lists":
        fresh_teacher_lists(BPR(split.n_users, split.n_items, 200))
    elif name.startswith("eval"):
        users = np.random.default_rng(0).choice(split.n_users, full_users, replace=False) if name == "eval_full" else None
        if users is not None:                       # full ranking on a sample of users, projected
            split.test_item = np.where(np.isin(np.arange(split.n_users), users), split.test_item, -1)
            split.valid_item = np.where(split.test_item >= 0, split.valid_item, -1)
        candidates = np.zeros((split.n_users, 499), dtype=np.int64) if users is not None else sample_candidates(split, 0, 499)
        evaluator = Evaluator(split, candidates, device, mode="full" if users is not None else "sampled")
        model = BPR(split.n_users, split.n_items, 20)
        start = time.perf_counter()
        evaluator.evaluate(model)
        seconds = time.perf_counter() - start
        if users is not None:
            out["projected_s"] = seconds * split.n_users / full_users
        return dict(out, seconds=seconds, cpu_s=cpu_seconds() - setup_cpu, peak_mb=peak_mb(), setup_mb=setup_mb)
    else:
        generator = torch.Generator().manual_seed(0)
        dim = 200 if name == "teacher" else 20
        student = BPR(split.n_users, split.n_items, dim)
        if name in ("student", "teacher"):
            method = Method()
        else:
            teacher = BPR(split.n_users, split.n_items, 200)
            if name == "URRD":      # the lists' content does not change the cost: a fresh teacher's
                method = URRD(fresh_teacher_lists(teacher), split, generator)
            else:
                method = DE(teacher, 20, generator)
        out["method_setup_s"] = time.perf_counter() - start
        data = TrainingData(split, device)
        steps = Steps(student, method, 1e-3, 1e-3)
        method.start_epoch(0)
        n = batches * 1024
        order = torch.randperm(len(data.users), generator=generator)[:n]
        negatives = sample_negatives(data.users[order], data.n_items, data.train_set, torch_draw(generator))
        start, cpu_start = time.perf_counter(), cpu_seconds()
        steps.run(data.users[order], data.pos[order], negatives, 1024, {})
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
        batches_per_epoch = -(-len(data.users) // 1024)
        out.update(per_100_batches_s=seconds / batches * 100, per_100_batches_cpu_s=cpu / batches * 100,
                   projected_epoch_s=seconds / batches * batches_per_epoch,
                   projected_epoch_cpu_s=cpu / batches * batches_per_epoch)
        return dict(out, seconds=seconds, cpu_s=cpu_seconds() - setup_cpu, peak_mb=peak_mb(), setup_mb=setup_mb)
    return dict(out, seconds=time.perf_counter() - start, cpu_s=cpu_seconds() - setup_cpu, peak_mb=peak_mb(),
                setup_mb=setup_mb)


def measure(data_path, stages, batches, full_users):
    rows = []
    for name in stages:
        result = subprocess.run([sys.executable, __file__, "stage", name, "--data_path", data_path,
                                 "--batches", str(batches), "--full_users", str(full_users)],
                                capture_output=True, text=True, cwd=ROOT)
        if result.returncode:
            print(f"{name} failed:\n{result.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(f"| stage (synthetic MovieLens-20M shape, {rows[0]['interactions']:,} train interactions, 1 CPU thread) "
          "| wall s | CPU s | projected (wall) | peak RSS MB |")
    print("|---|---|---|---|---|")
    for r in rows:
        projected = ""
        if "projected_epoch_s" in r:
            projected = (f"100 batches {r['per_100_batches_s']:.1f} s ({r['per_100_batches_cpu_s']:.1f} s CPU); "
                         f"epoch {r['projected_epoch_s'] / 60:.0f} min ({r['projected_epoch_cpu_s'] / 60:.0f} min CPU)")
        elif "projected_s" in r:
            projected = f"all users {r['projected_s']:.0f} s"
        print(f"| {r['stage']} | {r['seconds']:.1f} | {r['cpu_s']:.1f} | {projected} | {r['peak_mb']:.0f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["generate", "measure", "stage"])
    p.add_argument("name", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--out", default="/tmp/scale_data", help="generate: folder to write <out>/synthetic20m/ into")
    p.add_argument("--data_path", default="/tmp/scale_data", help="measure: the --out of generate")
    p.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    p.add_argument("--batches", type=int, default=100, help="training batches timed per method")
    p.add_argument("--full_users", type=int, default=2000, help="users ranked against all items (projected)")
    a = p.parse_args()
    if a.what == "generate":
        return generate(a.out)
    if a.what == "stage":
        return print(json.dumps(stage(a.name, a.data_path, a.batches, a.full_users)))
    measure(a.data_path, a.stages, a.batches, a.full_users)


if __name__ == "__main__":
    main()
