"""log SUM_j exp(<user_b, item_j>) over every item but a few excluded per row, with its gradient,
without a [rows x items] matrix: the normaliser of the unsampled ranking losses (unsampled RRD,
HetComp), computed a chunk of rows at a time into one reused buffer.

On a CPU the work is bandwidth-bound: writing a fresh [chunk x items] tensor costs more than the
product that fills it (page faults), and ``max`` with indices or ``torch.logsumexp`` make several
passes; so each chunk is one product into the buffer, the row maximum (``amax``), and in-place
subtract, exp and sum (about four times faster than ``torch.logsumexp`` on a fresh product here).
The CPU buffer holds 2^20 floats (4 MB, 41 CiteULike rows): its five passes then stay in the last-level
cache even while other runs share it, where a 16 MB buffer went to memory (docs/speed.md). Chunks change
only the order in which the items' gradient is summed over rows.
"""
import torch

CHUNK_ELEMENTS = {"cpu": 1 << 20}     # buffer size (floats) per device type; elsewhere DEFAULT_CHUNK_ELEMENTS
DEFAULT_CHUNK_ELEMENTS = 1 << 26


def rows_per_chunk(n_cols, device):
    return max(1, CHUNK_ELEMENTS.get(device.type, DEFAULT_CHUNK_ELEMENTS) // n_cols)


def scores_into(buffer, user_rows, items_t, rows, cols, start, stop):
    """Rows start..stop of <user, item> into ``buffer``, excluded pairs at -inf -> that view [stop-start, n_items]."""
    view = buffer[:stop - start]
    torch.mm(user_rows[start:stop], items_t, out=view)
    lo, hi = torch.searchsorted(rows, torch.tensor([start, stop], device=rows.device))
    view[rows[lo:hi] - start, cols[lo:hi]] = -torch.inf
    return view


class MaskedLogSumExp(torch.autograd.Function):
    """user_rows [n, d], items [n_items, d], excluded (rows, cols) sorted by row -> [n]:
    log SUM_{j not excluded for b} exp(<user_b, item_j>). The backward pass recomputes each chunk.
    Gradients: d/d user_b = SUM_j p_bj item_j, d/d item_j = SUM_b p_bj user_b, p the masked softmax."""

    @staticmethod
    def forward(ctx, user_rows, items, rows, cols):
        items_t = items.T.contiguous()
        step = rows_per_chunk(len(items), user_rows.device)
        buffer = user_rows.new_empty((min(step, len(user_rows)), len(items)))
        out = user_rows.new_empty(len(user_rows))
        for start in range(0, len(user_rows), step):
            stop = min(start + step, len(user_rows))
            scores = scores_into(buffer, user_rows, items_t, rows, cols, start, stop)
            top = scores.amax(1, keepdim=True)
            out[start:stop] = scores.sub_(top).exp_().sum(1).log_().add_(top.squeeze(1))
        ctx.save_for_backward(user_rows, items, rows, cols, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        user_rows, items, rows, cols, out = ctx.saved_tensors
        items_t = items.T.contiguous()
        step = rows_per_chunk(len(items), user_rows.device)
        buffer = user_rows.new_empty((min(step, len(user_rows)), len(items)))
        grad_users, grad_items = torch.empty_like(user_rows), torch.zeros_like(items)
        for start in range(0, len(user_rows), step):
            stop = min(start + step, len(user_rows))
            p = scores_into(buffer, user_rows, items_t, rows, cols, start, stop)
            p.sub_(out[start:stop, None]).exp_().mul_(grad[start:stop, None])       # softmax x upstream grad
            torch.mm(p, items, out=grad_users[start:stop])
            grad_items.addmm_(p.T, user_rows[start:stop])
        return grad_users, grad_items, None, None
