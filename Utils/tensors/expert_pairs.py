"""The mixture of M two-layer experts over selected (entity, expert) pairs only.

    t_hat[e] = SUM_{m : active[e, m]} w[e, m] * (W2_m relu(W1_m s[e] + b1_m) + b2_m)   (DE, CIKM'20, Eq. 2-3)

Late in DE's temperature schedule the selection is nearly one-hot: about 1.02 of the 30 experts per
entity carry weight above float32 resolution (``skip_ratio`` in Models/DE.py). The pairs are sorted by
expert, and each expert's rows go through its own weights in one of two layouts:

- ``"groups"`` (the CPU's): one product per expert over its contiguous rows, as an autograd function
  whose backward pass writes each expert's weight gradients directly. No padding, no copies of the
  weights; 30 products a layer, each of a few dozen rows, so Python's per-call cost is small beside them.
- ``"tiles"`` (the GPU's): each expert's rows padded to tiles of ``TILE`` rows and every tile one slice of
  a batched product with its expert's weights gathered: a few kernels a layer, whatever the number of
  experts, at the price of padding and weight copies that a CPU feels and a GPU does not.

Both compute every output row with the same products (a row of s times W1_m, then times W2_m), so t_hat
is the same in both (and bit for bit where the BLAS computes a row as it does in a larger block); the
weight gradients are the same sums taken in another order.
"""
import torch
import torch.nn.functional as F

TILE = 64                         # rows per tile of the "tiles" layout


def _per_expert_grad(like, shape, groups):
    """A gradient [M, ...] (``shape``) left uninitialised but for zeros at the experts without rows:
    the others are written whole by their products, so the whole tensor is not filled each call."""
    grad = like.new_empty(shape)
    idle = sorted(set(range(shape[0])) - {m for m, _, _ in groups})
    if idle:
        grad[idle] = 0
    return grad


def _groups(counts):
    """[(expert, first row, rows)] for the experts with at least one row; counts: a list of M ints."""
    groups, start = [], 0
    for m, c in enumerate(counts):
        if c:
            groups.append((m, start, c))
        start += c
    return groups


class _ExpertGroups(torch.autograd.Function):
    """x [P, d_s] (rows sorted by expert), weight [P], W1 [M, d_s, h], b1 [M, h], W2 [M, h, d_t]
    -> weight[p] * relu(x[p] W1_m + b1_m) W2_m  [P, d_t], m the expert of row p."""

    @staticmethod
    def forward(ctx, x, weight, W1, b1, W2, groups):
        P, h, d_t = len(x), W1.shape[2], W2.shape[2]
        hidden = x.new_empty(P, h)
        for m, r, c in groups:
            torch.mm(x[r:r + c], W1[m], out=hidden[r:r + c]).add_(b1[m])
        hidden.relu_()
        weighted = hidden * weight.unsqueeze(1)
        out = x.new_empty(P, d_t)
        for m, r, c in groups:
            torch.mm(weighted[r:r + c], W2[m], out=out[r:r + c])
        ctx.save_for_backward(x, weight, W1, W2, hidden, weighted)
        ctx.groups = groups
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, W1, W2, hidden, weighted = ctx.saved_tensors
        groups = ctx.groups
        need_x, need_weight, need_W1, need_b1, need_W2 = ctx.needs_input_grad[:5]
        grad_weighted = x.new_empty(hidden.shape)
        grad_W2 = _per_expert_grad(W2, W2.shape, groups) if need_W2 else None
        for m, r, c in groups:
            torch.mm(grad_out[r:r + c], W2[m].T, out=grad_weighted[r:r + c])
            if need_W2:
                torch.mm(weighted[r:r + c].T, grad_out[r:r + c], out=grad_W2[m])
        grad_weight = (grad_weighted * hidden).sum(1) if need_weight else None
        grad_pre = grad_weighted.mul_(weight.unsqueeze(1)).mul_(hidden > 0)   # relu's gradient: hidden > 0
        grad_x = x.new_empty(x.shape) if need_x else None
        grad_W1 = _per_expert_grad(W1, W1.shape, groups) if need_W1 else None
        grad_b1 = _per_expert_grad(W1, (W1.shape[0], W1.shape[2]), groups) if need_b1 else None
        for m, r, c in groups:
            if need_x:
                torch.mm(grad_pre[r:r + c], W1[m].T, out=grad_x[r:r + c])
            if need_W1:
                torch.mm(x[r:r + c].T, grad_pre[r:r + c], out=grad_W1[m])
            if need_b1:
                torch.sum(grad_pre[r:r + c], 0, out=grad_b1[m])
        return grad_x, grad_weight, grad_W1, grad_b1, grad_W2, None


def _tiles(x, weight, expert, counts, W1, b1, W2):
    """The "tiles" layout of ``_ExpertGroups`` (same arguments, plus expert [P], counts [M] tensor)."""
    M, d_s = W1.shape[:2]
    d_t = W2.shape[2]
    tiles_per_expert = (counts + TILE - 1) // TILE
    tile_expert = torch.repeat_interleave(torch.arange(M, device=x.device), tiles_per_expert)
    first_tile = torch.cumsum(tiles_per_expert, 0) - tiles_per_expert
    first_pair = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(expert), device=x.device) - first_pair[expert]
    slot = (first_tile[expert] + rank // TILE) * TILE + rank % TILE     # position in the tiled layout
    n_slots = len(tile_expert) * TILE
    x_tiled = x.new_zeros(n_slots, d_s).index_copy(0, slot, x).view(-1, TILE, d_s)
    weight_tiled = weight.new_zeros(n_slots).index_copy(0, slot, weight)
    hidden = F.relu(torch.bmm(x_tiled, W1[tile_expert]) + b1[tile_expert].unsqueeze(1))
    hidden = hidden * weight_tiled.view(-1, TILE, 1)
    return torch.bmm(hidden, W2[tile_expert]).reshape(n_slots, d_t)[slot]


def pair_mixture(s, w, active, W1, b1, W2, b2, layout=None):
    """t_hat over the active pairs only. s [n, d_s], w [n, M] (selection weights), active [n, M] bool,
    W1 [M, d_s, h], b1 [M, h], W2 [M, h, d_t], b2 [M, d_t] -> [n, d_t]; differentiable in s, w and the
    four weights. layout: "groups" or "tiles"; None picks "groups" on the CPU, "tiles" elsewhere."""
    layout = layout or ("groups" if s.device.type == "cpu" else "tiles")
    entity, expert = active.T.nonzero(as_tuple=True)[::-1]             # pairs sorted by expert
    counts = torch.bincount(expert, minlength=len(W1))
    x, weight = s[entity], w[entity, expert]
    if layout == "groups":
        out = _ExpertGroups.apply(x, weight, W1, b1, W2, _groups(counts.tolist()))
    elif layout == "tiles":
        out = _tiles(x, weight, expert, counts, W1, b1, W2)
    else:
        raise ValueError(f"layout: 'groups' or 'tiles', not {layout!r}")
    return ((w * active) @ b2).index_add(0, entity, out)
