"""Vectorised samplers: draw many, reject the invalid in bulk, redraw the few that remain.

Membership ("does user u have item i?") is a binary search in the sorted keys ``u * n_cols + i``, so
memory stays proportional to the interactions, never users x items.
"""
import torch


class PairSet:
    """A set of (row, col) pairs stored as sorted int64 keys ``row * n_cols + col``."""

    def __init__(self, rows, cols, n_cols):
        self.n_cols = n_cols
        self.keys = torch.unique(rows.to(torch.int64) * n_cols + cols.to(torch.int64))  # sorted

    def contains(self, rows, cols):
        """[...] rows, [...] cols -> [...] bool."""
        query = rows.to(torch.int64) * self.n_cols + cols
        if len(self.keys) == 0:
            return torch.zeros_like(query, dtype=torch.bool)
        position = torch.searchsorted(self.keys, query).clamp_max(len(self.keys) - 1)
        return self.keys[position] == query


def gumbel_like(x, generator):
    """Gumbel(0, 1) noise shaped like x, drawn on x's device: -log(-log(U))."""
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return -torch.log(-torch.log(u + 1e-20) + 1e-20)


def torch_draw(generator):
    """A ``draw(shape, high)`` function: uniform int64 in [0, high) from a torch generator."""
    def draw(shape, high):
        return torch.randint(high, shape, generator=generator, device=generator.device)
    return draw


def sample_negatives(users, n_items, excluded, draw):
    """One item per entry, uniform over items, rejected while ``excluded`` holds (user, item).

    users: [n] int64 -> [n] int64 items. docs/methods.md, Protocol (one negative per interaction).
    """
    items = draw(users.shape, n_items)
    bad = excluded.contains(users, items).nonzero().squeeze(1)
    while len(bad):
        items[bad] = draw(bad.shape, n_items)
        bad = bad[excluded.contains(users[bad], items[bad])]
    return items


def _first_k_distinct_valid(rows, draws, k, n_cols, excluded):
    """Per row, the first k draws (in draw order) that are distinct and not excluded.

    rows: [R], draws: [R, M] -> (picked [R, k] with -1 where missing, complete [R] bool).
    """
    valid = ~excluded.contains(rows.unsqueeze(1), draws) if excluded is not None else \
        torch.ones_like(draws, dtype=torch.bool)
    order = torch.sort(draws, dim=1, stable=True)
    repeated = torch.zeros_like(valid)
    repeated[:, 1:] = order.values[:, 1:] == order.values[:, :-1]
    duplicate = torch.zeros_like(valid).scatter_(1, order.indices, repeated)  # a later copy of an earlier draw
    valid &= ~duplicate
    slot = valid.cumsum(1) - 1
    take = valid & (slot < k)
    picked = torch.full((len(rows), k), -1, dtype=draws.dtype, device=draws.device)
    row_index = torch.arange(len(rows), device=draws.device).unsqueeze(1).expand_as(draws)
    picked[row_index[take], slot[take]] = draws[take]
    return picked, valid.sum(1) >= k


def sample_distinct_excluding(rows, k, n_cols, excluded, draw, oversample=1.5, chunk_rows=None):
    """k distinct columns per row, uniform without replacement among columns not in ``excluded``.

    rows: [R] int64 -> [R, k] int64. Rows that lack k valid draws are redrawn (twice as many each time);
    the result is a deterministic function of the draw sequence. The caller guarantees that every row
    has at least k allowed columns. ``chunk_rows``: the first round, which holds nearly all the work,
    goes this many rows at a time (its working memory about 100 bytes per draw); a ``draw`` that is one
    sequential stream (as ``pcg64_draw``) gives the same draws in chunks as at once, so the same result.
    """
    result = torch.empty((len(rows), k), dtype=torch.int64, device=rows.device)
    width = max(int(k * oversample) + 8, 16)
    step = chunk_rows or max(len(rows), 1)
    incomplete = []
    for start in range(0, len(rows), step):                   # chunks of rows, not a loop over rows
        chunk = torch.arange(start, min(start + step, len(rows)), device=rows.device)
        picked, complete = _first_k_distinct_valid(rows[chunk], draw((len(chunk), width), n_cols), k, n_cols,
                                                   excluded)
        result[chunk[complete]] = picked[complete]
        incomplete.append(chunk[~complete])
    pending = torch.cat(incomplete) if incomplete else torch.arange(0, device=rows.device)
    width *= 2
    while len(pending):
        draws = draw((len(pending), width), n_cols)
        picked, complete = _first_k_distinct_valid(rows[pending], draws, k, n_cols, excluded)
        result[pending[complete]] = picked[complete]
        pending = pending[~complete]
        width *= 2
    return result
