"""The cost of one full-ranking evaluation of the held-out protocols (docs/protocols.md, The evaluator).

    python benchmarks/heldout_eval.py [--threads 1] [--repeats 3] [--protocol kds] [--model bpr --dim 20]
                                      [--dataset citeULike]

On CiteULike (or ``--dataset``) under the protocol's split, with a randomly initialised model (default: the BPR-MF student,
dim 20; ``--model neumf --dim 250``: the NeuMF teacher, whose scores are an MLP over every pair), prints the
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
from Models.zoo import BASE_MODELS, build_model  # noqa: E402
from Utils.data.heldout_split import load_heldout_split, parse_ratios  # noqa: E402
from Utils.training.heldout_evaluation import HeldoutEvaluator  # noqa: E402
from Utils.training.protocols import PROTOCOLS  # noqa: E402

CHUNK = 256
VARIANTS = {"scores": "score product only", "sort": "full stable sort per chunk",
            "evaluator": "evaluator (topk, valid + test)"}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--protocol", choices=["kds", "hetcomp"], default="kds")
    p.add_argument("--dataset", default="citeULike", help="a folder under data/")
    p.add_argument("--model", choices=sorted(BASE_MODELS), default="bpr")
    p.add_argument("--dim", type=int, default=20)
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                   help="which timings (the full sort is slow at large dims)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    preset = PROTOCOLS[a.protocol]
    split = load_heldout_split("data", a.dataset, preset["split"], parse_ratios(preset["ratios"]), preset["order"],
                               0, 5, None, bool(preset["drop_unseen"]))
    torch.manual_seed(0)
    model = build_model(a.model, split, a.dim).eval()
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

    functions = {"scores": scores_only, "sort": full_sort, "evaluator": lambda: evaluator.evaluate(model)}
    variants = {VARIANTS[key]: functions[key] for key in a.variants}
    times = {name: [] for name in variants}
    for _ in range(a.repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    print(f"{a.dataset} under {a.protocol}, {a.model} dim {a.dim}: {split.n_users} users x {split.n_items} items, chunks of {CHUNK} users, "
          f"{a.threads} thread(s), median of {a.repeats}")
    print("| what | seconds |\n|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} |")
    print(f"one chunk's scores: {CHUNK * split.n_items * 8 / 2 ** 20:.0f} MiB (float64)")


if __name__ == "__main__":
    main()
