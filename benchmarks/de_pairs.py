"""DE's step late in the schedule (a nearly one-hot selection): the two layouts of the pair mixture.

    python benchmarks/de_pairs.py [--threads 1] [--repeats 7]
    python benchmarks/de_pairs.py --rows 992 955 1004 --steps 652     # Foursquare's batches
    python benchmarks/de_pairs.py --dims 50 500                       # NeuMF (representations 2 x dim)
    python benchmarks/de_pairs.py --share 0.5 0.7 --layouts groups dense   # the selection in transition

Once the temperature is low, each entity's weight sits on one expert (the reference runs log
``pairs_computed`` of 0.034 of the 30 experts from about epoch 150: 1.02 experts an entity), and DE
computes only the active pairs (``Utils.tensors.expert_pairs.pair_mixture``). The step's three mixtures
(unique users, positives, negatives of a batch) are timed forward and backward in the "groups" layout
(one product per expert, the CPU's default since 2026-12-06) and the "tiles" layout (one batched product
over 64-row tiles, weights gathered per tile: the CPU's before, the GPU's still), alternating within each
repeat so that load from other processes hits both alike; the median of the repeats is printed, and
with ``--steps`` the DE term's seconds per epoch of that many steps.

The selection is drawn to look like a trained one: each entity's top expert from a skewed popularity
over the experts (expert m with weight 1 / (m + 1)), plus a second active expert for ``--second`` of
the entities. With ``--share F ...`` each entity has instead its round(F M) largest weights active, as in
the epochs where the temperature is falling, and the "dense" layout (every pair computed:
``ExpertBank.mixture_dense``, what DE runs while at least half the pairs are active) can be timed beside
the others, to see where the pair mixture starts to pay.
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from Models.DE import ExpertBank, hidden_size  # noqa: E402
from Utils.tensors.expert_pairs import pair_mixture  # noqa: E402

ROWS = (705, 973, 1007)       # unique users, positives, negatives of one CiteULike batch (seed 0)
D_S, D_T, M = 20, 200, 30     # the paper's BPR-MF student and teacher, 30 experts


def selection(n, second, generator):
    """w [n, M] near one-hot, active [n, M]: one expert per entity, two for a share ``second``."""
    popularity = 1.0 / torch.arange(1, M + 1, dtype=torch.float)
    top = torch.multinomial(popularity, n, replacement=True, generator=generator)
    logits = torch.randn(n, M, generator=generator)
    logits[torch.arange(n), top] += 40.0
    two = torch.rand(n, generator=generator) < second
    logits[two, (top[two] + 1) % M] += 39.0
    w = torch.softmax(logits, 1)
    return w, w >= 2.0 ** -30 * w.max(1, keepdim=True).values


def selection_share(n, share, generator):
    """w [n, M] from random logits, active [n, M]: each entity's round(share M) largest weights."""
    w = torch.softmax(torch.randn(n, M, generator=generator), 1)
    top = w.topk(max(1, round(share * M)), 1).indices
    return w, torch.zeros(n, M, dtype=torch.bool).scatter_(1, top, True)


def step(bank, batch, layout):
    """Forward and backward of the three mixtures of one step; layout "dense" computes every pair."""
    loss = 0
    for s, w, active, t in batch:
        if layout == "dense":
            t_hat = bank.mixture_dense(s, w)
        else:
            t_hat = pair_mixture(s, w, active, bank.W1, bank.b1, bank.W2, bank.b2, layout)
        loss = loss + ((t - t_hat) ** 2).sum()
    loss.backward()


def batch_of(rows, d_s, d_t, draw, generator):
    """The three mixtures' inputs (s, w, active, t), one selection drawn by ``draw(n)`` for each."""
    batch = []
    for n in rows:
        w, active = draw(n)
        batch.append((torch.randn(n, d_s, generator=generator).requires_grad_(), w.requires_grad_(), active,
                      torch.randn(n, d_t, generator=generator)))
    return batch


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--rows", type=int, nargs=3, default=ROWS, metavar=("USERS", "POSITIVES", "NEGATIVES"))
    p.add_argument("--dims", type=int, nargs=2, default=(D_S, D_T), metavar=("D_S", "D_T"))
    p.add_argument("--second", type=float, default=0.02, help="share of entities with two active experts")
    p.add_argument("--steps", type=int, default=0, help="steps per epoch, to print the epoch's DE time")
    p.add_argument("--share", type=float, nargs="+", default=None,
                   help="instead of the late selection: each entity's round(F x 30) largest weights active, per F")
    p.add_argument("--layouts", nargs="+", choices=("groups", "tiles", "dense"), default=("groups", "tiles"))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    d_s, d_t = a.dims
    bank = ExpertBank(M, d_s, d_t)
    draws = ([(f"share {f}", lambda n, f=f: selection_share(n, f, g)) for f in a.share] if a.share
             else [("late", lambda n: selection(n, a.second, g))])
    print(f"rows {a.rows}, dims [{d_s} -> {hidden_size(d_s, d_t)} -> {d_t}] x {M}, {a.threads} thread(s), "
          f"median of {a.repeats}\n")
    print("| selection | active pairs an entity | layout | ms a step |" + (" DE s an epoch |" if a.steps else ""))
    print("|---|---|---|---|" + ("---|" if a.steps else ""))
    for label, draw in draws:
        batch = batch_of(a.rows, d_s, d_t, draw, g)
        pairs = sum(int(active.sum()) for _, _, active, _ in batch)
        times = {layout: [] for layout in a.layouts}
        for layout in a.layouts:
            step(bank, batch, layout)                   # warm-up
        for _ in range(a.repeats):
            for layout in a.layouts:
                start = time.perf_counter()
                step(bank, batch, layout)
                times[layout].append(time.perf_counter() - start)
        for layout in a.layouts:
            ms = 1000 * statistics.median(times[layout])
            print(f"| {label} | {pairs / sum(a.rows):.3f} | {layout} | {ms:.1f} |"
                  + (f" {ms * a.steps / 1000:.1f} |" if a.steps else ""), flush=True)


if __name__ == "__main__":
    main()
