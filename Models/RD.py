"""Ranking Distillation (RD), Tang & Wang, KDD'18: the teacher's top-K unobserved items of each user
are extra positives for the student, weighted by position and, later, by rank discrepancy.

For a user u with the teacher's top-K unobserved items pi_1..pi_K (teacher order):
  L_RD(u) = - SUM_{r=1..K} w_r log sigmoid(s(u, pi_r))
  position weight     w^a_r = exp(-r / lambda_pos) / SUM_r' exp(-r' / lambda_pos)
  discrepancy weight  w^b_r = max(0, tanh(mu (rhat_r - r))), used from ``dynamic_start`` on
                      (w_r = w^a_r w^b_r then, w^a_r before), where rhat_r, the student's
                      estimated rank of pi_r, counts how many of n uniformly drawn unobserved items
                      the student scores above pi_r, scaled by (n_items - 1) / n.
The weights carry no gradient; the n items are redrawn every batch (as the official code does).
The term is summed over the unique users of a batch: L = L_base + lambda_RD SUM_u L_RD(u).
"""
import torch
import torch.nn.functional as F

from Models.method import Method
from Utils.tensors.sampling import PairSet, sample_negatives, torch_draw


def position_weights(K, lambda_pos):
    """w^a [K]: exp(-r / lambda_pos) for r = 1..K, normalised to sum 1."""
    return torch.softmax(-torch.arange(1, K + 1, dtype=torch.float64) / lambda_pos, 0).float()


def discrepancy_weights(top_scores, sampled_scores, n_items, mu):
    """w^b [n, K] from the student's scores of the top-K items [n, K] and of n drawn unobserved items
    [n, S]: rhat_r = #{sampled scored above pi_r} (n_items - 1) / S; w^b_r = max(0, tanh(mu (rhat_r - r)))."""
    above = (sampled_scores.unsqueeze(1) > top_scores.unsqueeze(2)).sum(2)            # [n, K]
    rank_estimate = above.to(top_scores.dtype) * (n_items - 1) / sampled_scores.shape[1]
    r = torch.arange(1, top_scores.shape[1] + 1, device=top_scores.device, dtype=top_scores.dtype)
    return torch.tanh(mu * (rank_estimate - r)).clamp_min(0)


def rd_loss(top_scores, weights):
    """SUM_{u, r} w_{u,r} (-log sigmoid(s(u, pi_r))): top_scores [n, K], weights [n, K] or [K] -> scalar."""
    return -(weights * F.logsigmoid(top_scores)).sum()


class RD(Method):
    """lists [n_users, >= K]: the teacher's ranking lists; only their first K items are used."""
    name = "RD"

    def __init__(self, lists, split, generator, lmbda=0.5, K=10, lambda_pos=1.0, mu=0.1, n_samples=100,
                 dynamic_start=10):
        device = lists.device
        self.top = lists[:, :K].contiguous()
        self.lmbda, self.mu, self.n_samples, self.dynamic_start = lmbda, mu, n_samples, dynamic_start
        self.position = position_weights(K, lambda_pos).to(device)
        self.n_items = split.n_items
        self.train_set = PairSet(torch.from_numpy(split.train_users).to(device),
                                 torch.from_numpy(split.train_items).to(device), split.n_items)
        self.draw = torch_draw(generator)
        self.dynamic = False

    def start_epoch(self, epoch):
        self.dynamic = epoch >= self.dynamic_start
        return {}

    def loss(self, batch):
        users = torch.unique(batch.users)
        top = self.top[users]                                                   # [n, K]
        top_scores = batch.scores(users, top)
        weights = self.position
        if self.dynamic:
            owners = users.repeat_interleave(self.n_samples)
            sampled = sample_negatives(owners, self.n_items, self.train_set, self.draw).view(len(users), -1)
            with torch.no_grad():    # both sides scored by one function: a drawn pi_r never counts as above itself
                scores = batch.student.score(users, torch.cat([top, sampled], 1))
                weights = weights * discrepancy_weights(scores[:, :top.shape[1]], scores[:, top.shape[1]:],
                                                        self.n_items, self.mu)
        return {"RD": self.lmbda * rd_loss(top_scores, weights)}

    def describe(self):
        return [f"RD:: K {self.top.shape[1]}, lambda {self.lmbda:g}, mu {self.mu:g}, "
                f"{self.n_samples} samples for the rank estimate from epoch {self.dynamic_start}"]
