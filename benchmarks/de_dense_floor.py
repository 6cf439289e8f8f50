"""DE's dense step (all experts computed) against the floor of its products on this CPU.

    python benchmarks/de_dense_floor.py [--threads 1] [--repeats 5]
    python benchmarks/de_dense_floor.py --rows 992 955 1004 --steps 652     # Foursquare's batches
    python benchmarks/de_dense_floor.py --dims 50 500                       # NeuMF (representations 2 x dim)

One training step of DE while the selection is soft computes the mixture of all M experts for the
batch's unique users, positive items and negative items (on CiteULike's 1024-triple batches about 705,
973 and 1007 rows) forward and backward. The script prints, for the paper's CiteULike shapes
(d_s 20, h 110, d_t 200, M 30) or those given by ``--rows`` and ``--dims`` (Foursquare's 1024-triple
batches: about 992 unique users, 955 positives, 1004 negatives, 652 batches per epoch):

- every matrix product of the step at its own shape, timed alone (GFLOP/s), and their sum;
- the floor: the step's FLOPs at the rate of a large square product on this machine;
- the step as the two products over all experts under autograd compute it (``dense_mixture`` with
  ``chunk=None``: DE's code before 2026-12-02) and as ``Utils.tensors.expert_mixture.dense_mixture``
  does for several chunk sizes, each with its ratio to the floor; "(DE's)" marks the chunk
  ``ExpertBank.mixture_dense`` uses. The variants alternate within each repeat, so load from other
  processes hits all alike; the median of the repeats is shown; with ``--steps``, DE's form's time per
  epoch of that many steps (the DE term alone: the student's own loss and its optimiser step come on top).
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from Models.DE import ExpertBank  # noqa: E402
from Utils.tensors.expert_mixture import DEFAULT_CHUNK, dense_mixture  # noqa: E402

ROWS = (705, 973, 1007)       # unique users, positives, negatives of one CiteULike batch (seed 0)
D_S, D_T, M = 20, 200, 30     # the paper's BPR-MF student and teacher, 30 experts


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def product_shapes(n, d_s, h, d_t):
    """(m, k, n) of each product of one dense call on n rows, forward and backward, as autograd runs it."""
    Mh = M * h
    return [("fwd  s @ W1_all", n, d_s, Mh), ("fwd  (w*H) @ W2_all", n, Mh, d_t),
            ("bwd  g @ W2_all^T", n, d_t, Mh), ("bwd  (w*H)^T @ g", Mh, n, d_t),
            ("bwd  s^T @ G", d_s, n, Mh), ("bwd  G @ W1_all^T", n, Mh, d_s)]


def gemm_time(m, k, n, repeats):
    a, b, c = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
    return timed(lambda: torch.mm(a, b, out=c), repeats)


def step(banks, inputs, mixture):
    """Forward and backward of the three DE terms of one step (loss SUM ||t - t_hat||^2)."""
    for bank in banks:
        for p in bank.parameters():
            p.grad = None
    loss = 0
    for bank, (s, logits, t) in zip((banks[0], banks[1], banks[1]), inputs):
        loss = loss + ((t - mixture(bank, s, torch.softmax(logits, 1))) ** 2).sum()
    loss.backward()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--chunks", type=int, nargs="+", default=[8, DEFAULT_CHUNK, 128, 512])
    p.add_argument("--rows", type=int, nargs=3, default=ROWS, metavar=("USERS", "POSITIVES", "NEGATIVES"),
                   help="unique rows of the three calls of one step")
    p.add_argument("--dims", type=int, nargs=2, default=(D_S, D_T), metavar=("D_S", "D_T"),
                   help="student and teacher representation sizes")
    p.add_argument("--steps", type=int, default=0, help="steps per epoch, to print the epoch's DE time")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rows, (d_s, d_t) = tuple(a.rows), a.dims
    banks = [ExpertBank(M, d_s, d_t), ExpertBank(M, d_s, d_t)]
    h = banks[0].h
    inputs = []
    for n in rows:
        s = torch.randn(n, d_s, requires_grad=True)
        logits = torch.randn(n, M, requires_grad=True)
        inputs.append((s, logits, torch.randn(n, d_t)))

    print(f"torch {torch.__version__}, {a.threads} thread(s); rows per call {rows}; experts [{d_s} -> {h} -> {d_t}] x {M}")
    big = 2048
    big_s = gemm_time(big, big, big, a.repeats)
    rate = 2 * big ** 3 / big_s
    print(f"large product {big}^3: {rate / 1e9:.0f} GFLOP/s\n")
    print("| product (one call, n rows) | shape m x k x n | GFLOP | ms | GFLOP/s |\n|---|---|---|---|---|")
    flops = products_s = 0.0
    for n in rows:
        for label, m, k, nn in product_shapes(n, d_s, h, d_t):
            t = gemm_time(m, k, nn, a.repeats)
            f = 2 * m * k * nn
            flops += f
            products_s += t
            if n == rows[-1]:
                print(f"| {label} | {m} x {k} x {nn} | {f / 1e9:.2f} | {t * 1e3:.1f} | {f / t / 1e9:.0f} |")
    floor = flops / rate
    print(f"\nthe step's products: {flops / 1e9:.1f} GFLOP; each timed alone, summed: {products_s * 1e3:.0f} ms; "
          f"floor at the large-product rate: {floor * 1e3:.0f} ms\n")

    variants = {"two products under autograd (chunk None)": (
        lambda bank, s, w: dense_mixture(s, w, bank.W1, bank.b1, bank.W2, bank.b2, chunk=None))}
    for c in a.chunks:
        variants[f"dense_mixture, chunk {c}" + (" (DE's)" if c == DEFAULT_CHUNK else "")] = (
            lambda bank, s, w, c=c: dense_mixture(s, w, bank.W1, bank.b1, bank.W2, bank.b2, chunk=c))
    times = {k: [] for k in variants}
    for _ in range(a.repeats):
        for label, mixture in variants.items():
            times[label].append(timed(lambda: step(banks, inputs, mixture), 1))
    print("| step (3 calls, forward + backward) | ms | x floor |\n|---|---|---|")
    for label, ts in times.items():
        t = statistics.median(ts)
        print(f"| {label} | {t * 1e3:.0f} | {t / floor:.2f} |")
    chosen_times = [ts for label, ts in times.items() if label.endswith("(DE's)")]
    if a.steps and chosen_times:
        t = statistics.median(chosen_times[0])
        print(f"\n{a.steps} steps of DE's form: {a.steps * t:.0f} s per dense epoch (the DE term alone)")


if __name__ == "__main__":
    main()
