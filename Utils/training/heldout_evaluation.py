"""Full-ranking evaluation of per-user held-out sets (the kds and hetcomp protocols, docs/protocols.md).

Each user's valid (test) items are ranked among every item but the user's training items and, with
``mask_heldout``, its test (valid) items; Recall, NDCG and HR at the protocol's cut-offs, averaged over the
users with a valid (test) set (Utils/tensors/heldout_metrics.py: the tie rule, the top-K ranking). The
ranks kept per held-out pair (CSR order of the split's pairs, K + 1 for beyond the largest cut-off) go to
the run's ``ranks.npz``.
"""
import numpy as np
import torch

from Utils.tensors.csr import build_csr
from Utils.tensors.heldout_metrics import heldout_ranks_of_sets, metrics_from_heldout_ranks
from Utils.training.protocols import parse_cutoffs
from Utils.training.selection import MetricSelection


class HeldoutEvaluator:
    """Ranks a model's valid and test sets of a ``HeldoutSplit``; the model supplies ``score_all(users)``."""

    def __init__(self, split, device, cutoffs="10,20", select="N@10", mask_heldout=False, chunk=256):
        self.device, self.n_items, self.chunk = device, split.n_items, chunk
        self.cutoffs = parse_cutoffs(cutoffs) if isinstance(cutoffs, str) else tuple(cutoffs)
        self.headline = select                     # the metric that selects (and the progress bar shows)
        n = split.n_users
        self.sets = {"valid": build_csr(split.valid_users, split.valid_items, n, device),
                     "test": build_csr(split.test_users, split.test_items, n, device)}
        self.masks = {}
        for name, other in (("valid", "test"), ("test", "valid")):
            users, items = [split.train_users], [split.train_items]
            if mask_heldout:
                users.append(getattr(split, f"{other}_users"))
                items.append(getattr(split, f"{other}_items"))
            self.masks[name] = build_csr(np.concatenate(users), np.concatenate(items), n, device)
        self.nonfinite_scores = 0

    def selection(self, patience):
        """The protocol's selection rule: one validation metric, ``patience`` evaluations."""
        return MetricSelection(self.headline, patience)

    @torch.no_grad()
    def ranks(self, model):
        """-> {'valid': [n_valid] int64, 'test': [n_test] int64}: each held-out pair's rank (K + 1 beyond K)."""
        names = list(self.sets)
        ranks, self.nonfinite_scores = heldout_ranks_of_sets(
            model.score_all, self.n_items, [(self.sets[n], self.masks[n]) for n in names], max(self.cutoffs), self.chunk)
        return dict(zip(names, ranks))

    def evaluate(self, model):
        """-> (metrics {'valid': {'R@K', 'N@K', 'H@K'}, 'test': ...}, ranks)."""
        ranks = self.ranks(model)
        return {name: metrics_from_heldout_ranks(r, self.sets[name][0], self.cutoffs) for name, r in ranks.items()}, ranks
