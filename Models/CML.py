"""CML, Collaborative Metric Learning (Hsieh et al., WWW'17), one of HetComp's teacher families: users
and items are points, and a user prefers the items closest to it.

    e(x)    = x / max(1, ||x||)                       (every embedding inside the unit ball)
    d(u, i) = ||e(u) - e(i)||^2,   s(u, i) = -d(u, i)
    L       = SUM_b log(1 + J M_b / U) [m + d(u_b, i_b) - min_k d(u_b, j_bk)]_+ ,   margin m = 0.5
on each (user, positive) pair of the batch with U = 20 sampled negatives j_b1..j_bU (the CML release's
WARP: the hinge on the closest negative, weighted by the log of the positive's estimated rank, M_b the
number of impostors m + d(u, i) - d(u, j_bk) > 0 among the U, J the number of items). With one negative
per pair (``negatives=1``, ``--cml_negatives 1``) it is the plain hinge [m + d(u, i) - d(u, j)]_+, as this
project trained CML before 2026-12-03.

Two choices, documented in docs/methods.md: the unit-ball constraint is a reparametrisation (each
embedding is divided by max(1, its norm) wherever it is used) rather than the original's clipping
of the updated rows after each step, so CML trains in the one loop like every other model; and the
original's covariance regulariser is left out (its own example turns it off). Latent distillation
reads the constrained points e(u), e(i). The score is not a dot product of two representations, so the paths that need one (the
sparse and unsampled RRD, the item side, DCD) refuse CML.
"""
import torch
import torch.nn.functional as F

from Models.base import BaseModel, normal_table

MARGIN = 0.5
WARP_NEGATIVES = 20       # the CML release's N_NEGATIVE


def into_unit_ball(x):
    """x [..., d] -> x / max(1, ||x||) row-wise."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1.0)


def negative_squared_distance(a, b):
    """a [..., d], b [..., d] (broadcast) -> -||a - b||^2 [...]."""
    return -((a - b) ** 2).sum(-1)


def warp_hinge(positive, negative, n_items, margin=MARGIN):
    """positive [B] and negative [B, U] squared distances -> SUM_b w_b [m + d+ - min_k d-_k]_+, with
    w_b = log(1 + n_items * mean_k 1[m + d+ - d-_k > 0]) when U > 1 (WARP; no gradient through w), 1 when U = 1."""
    hinge = F.relu(margin + positive - negative.min(1).values)
    if negative.shape[1] == 1:
        return hinge.sum()
    impostors = (margin + positive.unsqueeze(1) - negative > 0).float().mean(1)
    return (torch.log1p(n_items * impostors).detach() * hinge).sum()


class CML(BaseModel):
    name = "CML"
    loss_name = "hinge"

    def __init__(self, n_users, n_items, dim, negatives=WARP_NEGATIVES):
        super().__init__()
        self.n_users, self.n_items, self.dim, self.repr_dim = n_users, n_items, dim, dim
        self.negatives_per_triple = negatives          # the training loop draws this many per pair
        self.user_emb, self.item_emb = normal_table(n_users, dim), normal_table(n_items, dim)

    def tables(self):
        return [self.user_emb, self.item_emb]

    def train_loss(self, batch):
        """The WARP hinge over the batch's pairs and their negatives (module docstring); the plain hinge when
        the batch carries one negative per pair."""
        negatives = batch.negatives if batch.negatives is not None else batch.neg.unsqueeze(1)     # [B, U]
        scores = self.batch_scores(batch, batch.users, torch.cat([batch.pos.unsqueeze(1), negatives], 1))
        return warp_hinge(-scores[:, 0], -scores[:, 1:], self.n_items)

    def batch_scores(self, batch, users, items):
        return negative_squared_distance(self.batch_user_repr(batch, users).unsqueeze(1),
                                         self.batch_item_repr(batch, items))

    def batch_user_repr(self, batch, users):
        return into_unit_ball(batch.rows(self.user_emb, users))

    def batch_item_repr(self, batch, items):
        return into_unit_ball(batch.rows(self.item_emb, items))

    def user_repr(self, users):
        return into_unit_ball(self.user_emb[users])

    def item_repr(self, items):
        return into_unit_ball(self.item_emb[items])

    def score(self, users, items):
        """users [B], items [B, C] -> -||e(u) - e(i)||^2 [B, C]."""
        return negative_squared_distance(self.user_repr(users).unsqueeze(1), self.item_repr(items))

    def score_all(self, users):
        """users [B] -> [B, n_items] as 2 <e(u), e(i)> - ||e(u)||^2 - ||e(i)||^2 (one product)."""
        u = self.user_repr(users)
        v = into_unit_ball(self.item_emb)
        return 2 * u @ v.T - (u ** 2).sum(1, keepdim=True) - (v ** 2).sum(1)
