"""The cost of one full-ranking evaluation of the held-out protocols (docs/protocols.md, The evaluator).

    python benchmarks/heldout_eval.py [--threads 1] [--repeats 3] [--protocol kds]

On CiteULike under the protocol's split, with a randomly initialised BPR-MF student (dim 20), prints the
median seconds of: the score product alone (every user against every item, in chunks of 256 users);
ranking with a full stable sort of each chunk (what a direct transcription of the metric does); and the
evaluator's ``topk`` ranking of the valid and test sets (``HeldoutEvaluator.evaluate``), with the peak
memory of a chunk. The variants alternate within each repeat, so load from other processes hits all alike.
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from Models.zoo import build_model  # noqa: E402
from Utils.data.heldout_split import load_heldout_split, parse_ratios  # noqa: E402
from Utils.training.heldout_evaluation import HeldoutEvaluator  # noqa: E402
from Utils.training.protocols import PROTOCOLS  # noqa: E402

CHUNK = 256


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--protocol", choices=["kds", "hetcomp"], default="kds")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    preset = PROTOCOLS[a.protocol]
    split = load_heldout_split("data", "citeULike", preset["split"], parse_ratios(preset["ratios"]), preset["order"],
                               0, 5, None, bool(preset["drop_unseen"]))
    torch.manual_seed(0)
    model = build_model("bpr", split, 20).eval()
    evaluator = HeldoutEvaluator(split, torch.device("cpu"), preset["cutoffs"], preset["select"],
                                 bool(preset["mask_heldout"]), chunk=CHUNK)
    users = torch.arange(split.n_users)

    @torch.no_grad()
    def scores_only():
        for start in range(0, split.n_users, CHUNK):
            model.score_all(users[start:start + CHUNK])

    @torch.no_grad()
    def full_sort():
        for start in range(0, split.n_users, CHUNK):
            torch.sort(model.score_all(users[start:start + CHUNK]).double(), dim=1, descending=True, stable=True)

    variants = {"score product only": scores_only, "full stable sort per chunk": full_sort,
                "evaluator (topk, valid + test)": lambda: evaluator.evaluate(model)}
    times = {name: [] for name in variants}
    for _ in range(a.repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    print(f"CiteULike under {a.protocol}: {split.n_users} users x {split.n_items} items, chunks of {CHUNK} users, "
          f"{a.threads} thread(s), median of {a.repeats}")
    print("| what | seconds |\n|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} |")
    print(f"one chunk's scores: {CHUNK * split.n_items * 8 / 2 ** 20:.0f} MiB (float64)")


if __name__ == "__main__":
    main()
