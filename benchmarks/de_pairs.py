"""DE's step late in the schedule (a nearly one-hot selection): the two layouts of the pair mixture.

    python benchmarks/de_pairs.py [--threads 1] [--repeats 7]
    python benchmarks/de_pairs.py --rows 992 955 1004 --steps 652     # Foursquare's batches
    python benchmarks/de_pairs.py --dims 50 500                       # NeuMF (representations 2 x dim)

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
the entities.
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


def step(bank, batch, layout):
    """Forward and backward of the three mixtures of one step."""
    loss = 0
    for s, w, active, t in batch:
        loss = loss + ((t - pair_mixture(s, w, active, bank.W1, bank.b1, bank.W2, bank.b2, layout)) ** 2).sum()
    loss.backward()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--rows", type=int, nargs=3, default=ROWS, metavar=("USERS", "POSITIVES", "NEGATIVES"))
    p.add_argument("--dims", type=int, nargs=2, default=(D_S, D_T), metavar=("D_S", "D_T"))
    p.add_argument("--second", type=float, default=0.02, help="share of entities with two active experts")
    p.add_argument("--steps", type=int, default=0, help="steps per epoch, to print the epoch's DE time")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    d_s, d_t = a.dims
    bank = ExpertBank(M, d_s, d_t)
    batch = []
    for n in a.rows:
        w, active = selection(n, a.second, g)
        batch.append((torch.randn(n, d_s, generator=g).requires_grad_(), w.requires_grad_(), active,
                      torch.randn(n, d_t, generator=g)))
    pairs = sum(int(active.sum()) for _, _, active, _ in batch)
    layouts = ("groups", "tiles")
    times = {layout: [] for layout in layouts}
    for layout in layouts:
        step(bank, batch, layout)                       # warm-up
    for _ in range(a.repeats):
        for layout in layouts:
            start = time.perf_counter()
            step(bank, batch, layout)
            times[layout].append(time.perf_counter() - start)
    print(f"rows {a.rows}, dims [{d_s} -> {hidden_size(d_s, d_t)} -> {d_t}] x {M}, {pairs} active pairs "
          f"({pairs / sum(a.rows):.3f} an entity), {a.threads} thread(s), median of {a.repeats}\n")
    print("| layout | ms a step |" + (" DE s an epoch |" if a.steps else ""))
    print("|---|---|" + ("---|" if a.steps else ""))
    for layout in layouts:
        ms = 1000 * statistics.median(times[layout])
        print(f"| {layout} | {ms:.1f} |" + (f" {ms * a.steps / 1000:.1f} |" if a.steps else ""))


if __name__ == "__main__":
    main()
