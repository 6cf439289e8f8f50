"""Leave-one-out evaluation: scores in, per-user target ranks out, metrics from ranks.

Tie rule (pessimistic): rank = 1 + number of competing items whose score is >= the target's.
A target tied with a competitor is placed behind it, so a constant scorer gets the worst rank
(500 of 500 under the sampled protocol) and scores 0 on every metric. A nan score counts as the
worst score (below -inf, behind every competitor), so a diverged model can never look perfect; the
evaluator also counts such scores so the training loop can stop the run.
"""

import numpy as np
import torch

from Utils.tensors.csr import build_csr, fixed_width_csr, gather_rows, sampled_product
from Utils.training.selection import PerCutoffSelection

CUTOFFS = (5, 10, 20)
METRIC_KEYS = tuple(f"{m}@{n}" for n in CUTOFFS for m in ("H", "N", "M"))


def metrics_from_ranks(ranks, cutoffs=CUTOFFS):
    """1-based target ranks [n_users] (0 = no target) -> {'H@N', 'N@N', 'M@N'} averaged over users with a target.

    HR@N = 1[p <= N];  NDCG@N = 1[p <= N] / log2(p + 1);  MRR@N = 1[p <= N] / p.
    """
    ranks = torch.as_tensor(ranks, dtype=torch.float64)
    ranks = ranks[ranks > 0]
    out = {}
    for n in cutoffs:
        hit = (ranks <= n).double()
        out[f"H@{n}"] = hit.mean().item()
        out[f"N@{n}"] = (hit / torch.log2(ranks + 1)).mean().item()
        out[f"M@{n}"] = (hit / ranks).mean().item()
    return out


def worst_for_nan(scores):
    """nan -> -inf, so that under the >= tie rule a nan target is behind every competitor and a nan
    competitor is behind every target but a nan one."""
    return torch.nan_to_num(scores, nan=-torch.inf, posinf=torch.inf, neginf=-torch.inf)


class SampledScorer:
    """<user_b, item_{b,c}> for a FIXED item matrix items [B, C] (the evaluation candidates).

    On CPU a sampled dense-dense product (SDDMM) over a CSR pattern built once avoids materialising
    the gathered [B, C, d] item rows, which dominates the cost; elsewhere gather + bmm is fast.
    """

    def __init__(self, items):
        self.items = items
        self.pattern = None
        if items.device.type == "cpu":
            self.pattern = fixed_width_csr(items, 1 + int(items.max()), torch.zeros(items.shape))

    def __call__(self, user_rows, item_table):
        """user_rows [B, d], item_table [n_items, d] -> scores [B, C]."""
        if self.pattern is None:
            return torch.bmm(item_table[self.items], user_rows.unsqueeze(2)).squeeze(2)
        return sampled_product(self.pattern, user_rows, item_table).reshape(self.items.shape)


class Evaluator:
    """Ranks each user's valid and test item; the model supplies ``score(users, items)`` and ``score_all(users)``.

    Sampled protocol: the target among itself + the user's fixed candidates (the other held-out
    item is never a candidate). Full protocol: the target among all items outside the user's train
    set, the other held-out item excluded.
    """

    def __init__(self, split, candidates, device, mode="sampled", chunk=2048):
        self.device = device
        self.mode = mode
        self.full = mode in ("full", "both")
        self.n_items = split.n_items
        self.users = torch.from_numpy(np.nonzero(split.test_item >= 0)[0]).to(device)
        self.n_users = split.n_users
        self.valid_item = torch.from_numpy(split.valid_item).to(device)
        self.test_item = torch.from_numpy(split.test_item).to(device)
        candidates = torch.as_tensor(candidates, dtype=torch.int64).to(device)
        self.chunks = []          # (users [B], has_valid [B], scorer of [valid, test, 499 candidates])
        for start in range(0, len(self.users), chunk):
            users = self.users[start:start + chunk]
            valid = self.valid_item[users]
            items = torch.cat([valid.clamp_min(0).unsqueeze(1), self.test_item[users].unsqueeze(1), candidates[users]], 1)
            self.chunks.append((users, valid >= 0, SampledScorer(items)))
        self.train_ptr, self.train_items = build_csr(split.train_users, split.train_items, split.n_users, device)
        self.nonfinite_scores = 0       # scores of the last evaluation that were nan or inf
        self.headline = "H@5"           # the metric the progress bar shows

    def selection(self, patience):
        """The paper's selection rule: per N, the best validation HR@N; ``patience`` evaluations."""
        return PerCutoffSelection(patience, CUTOFFS)

    @torch.no_grad()
    def ranks(self, model):
        """-> {'valid': [n_users] int64, 'test': ..., and 'valid_full'/'test_full' when full}; 0 = no target."""
        out = {k: torch.zeros(self.n_users, dtype=torch.int64, device=self.device)
               for k in (("valid", "test", "valid_full", "test_full") if self.full else ("valid", "test"))}
        self.nonfinite_scores = 0
        for users, has_valid, scorer in self.chunks:
            scores = model.score_candidates(users, scorer)                      # [B, 2 + C]
            self.nonfinite_scores += int((~torch.isfinite(scores)).sum())
            scores = worst_for_nan(scores)
            negatives = scores[:, 2:]
            ahead = (negatives.unsqueeze(1) >= scores[:, :2, None]).sum(2, dtype=torch.int32)  # [B, 2]
            out["valid"][users] = torch.where(has_valid, 1 + ahead[:, 0], 0).long()
            out["test"][users] = 1 + ahead[:, 1].long()
            if self.full:
                self._full_ranks(model, users, self.valid_item[users], self.test_item[users], has_valid, out)
        return out

    def _full_ranks(self, model, users, valid, test, has_valid, out):
        scores = worst_for_nan(model.score_all(users))                          # [B, n_items]
        rows = torch.arange(len(users), device=self.device)
        owner, items = gather_rows(self.train_ptr, self.train_items, users)
        train_scores = scores[owner, items]
        for name, target, other in (("valid_full", valid, test), ("test_full", test, valid)):
            target_score = scores[rows, target.clamp_min(0)]
            other_score = scores[rows, other.clamp_min(0)]
            ahead = (scores >= target_score.unsqueeze(1)).sum(1) - 1            # minus the target itself
            ahead -= torch.bincount(owner[train_scores >= target_score[owner]], minlength=len(users))
            ahead -= ((other >= 0) & (other_score >= target_score)).long()
            mask = has_valid if name == "valid_full" else torch.ones_like(has_valid)
            out[name][users] = torch.where(mask, 1 + ahead, 0)

    def evaluate(self, model):
        """-> (metrics {'valid': {...}, 'test': {...}[, 'valid_full', 'test_full']}, ranks).

        With mode 'full' the full-ranking results are the ones named 'valid' and 'test' (and so
        drive model selection); with 'both' they are reported beside the sampled ones.
        """
        ranks = self.ranks(model)
        if self.mode == "full":
            ranks = {"valid": ranks["valid_full"], "test": ranks["test_full"]}
        return {name: metrics_from_ranks(r) for name, r in ranks.items()}, ranks
