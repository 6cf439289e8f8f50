"""Full-ranking metrics over per-user held-out sets (several items per user), chunk by chunk of users.

For user u with held-out set T_u (|T_u| >= 1) and the ranking of every item not masked for u (its
training items and, for validation, its test items: the protocol decides), by score descending and,
between equal scores, by item id ascending:

    HR@K     = 1[ |top_K ∩ T_u| > 0 ]
    Recall@K = |top_K ∩ T_u| / |T_u|
    NDCG@K   = SUM_{r <= K, item_r in T_u} 1 / log2(r + 1)  /  SUM_{r <= min(|T_u|, K)} 1 / log2(r + 1)

each averaged over the users with a held-out set. Scores come from ``score_rows(users) -> [c, n_items]``
for one chunk of ``chunk`` users at a time, so at most [chunk, n_items] scores exist at once, on the
scores' device.
"""
import torch

from Utils.tensors.csr import gather_rows


def _dense_rows(pointer, cols, users, n_items):
    """The sets of ``users`` [c] as a bool [c, n_items] (one chunk)."""
    owner, items = gather_rows(pointer, cols, users)
    out = torch.zeros(len(users), n_items, dtype=torch.bool, device=users.device)
    out[owner, items] = True
    return out


def heldout_metrics(score_rows, n_users, n_items, heldout, masked, cutoffs=(10, 20), chunk=256):
    """{'R@K', 'N@K', 'H@K' for K in cutoffs: mean over users with held-out items}, 'users': their count}.

    heldout, masked: (pointer [n_users + 1], cols) CSR pairs on the scores' device (Utils.tensors.csr);
    an item both held out and masked for a user is an error of the protocol's caller (refused)."""
    k_max = max(cutoffs)
    sizes = heldout[0][1:] - heldout[0][:-1]
    device = heldout[0].device
    sums = {f"{m}@{k}": torch.zeros((), dtype=torch.float64, device=device) for k in cutoffs for m in "RNH"}
    discounts = 1.0 / torch.log2(torch.arange(2, k_max + 2, dtype=torch.float64, device=device))
    ideal = torch.cumsum(discounts, 0)                                    # [k_max]: ideal DCG at 1..k_max
    users_all = torch.nonzero(sizes > 0).squeeze(1)
    for start in range(0, len(users_all), chunk):
        users = users_all[start:start + chunk]
        target = _dense_rows(*heldout, users, n_items)
        mask = _dense_rows(*masked, users, n_items)
        if (target & mask).any():
            raise ValueError("an item is both held out and masked for a user")
        scores = score_rows(users).to(torch.float64).masked_fill(mask, float("-inf"))
        order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k_max]   # ties: lower id first
        hit = torch.gather(target, 1, order).to(torch.float64)                               # [c, k_max]
        n = sizes[users].to(torch.float64)
        for k in cutoffs:
            hits = hit[:, :k].sum(1)
            dcg = (hit[:, :k] * discounts[:k]).sum(1)
            sums[f"R@{k}"] += (hits / n).sum()
            sums[f"N@{k}"] += (dcg / ideal[torch.clamp(n.long(), max=k) - 1]).sum()
            sums[f"H@{k}"] += (hits > 0).to(torch.float64).sum()
    count = len(users_all)
    return {**{name: float(total) / max(count, 1) for name, total in sums.items()}, "users": count}
