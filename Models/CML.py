"""CML, Collaborative Metric Learning (Hsieh et al., WWW'17), one of HetComp's teacher families: users
and items are points, and a user prefers the items closest to it.

    e(x)    = x / max(1, ||x||)                       (every embedding inside the unit ball)
    s(u, i) = -||e(u) - e(i)||^2
    L       = SUM_b [m + ||e(u_b) - e(i_b)||^2 - ||e(u_b) - e(j_b)||^2]_+ ,   margin m = 0.5
on each (user, positive, sampled negative) triple of the batch, as every base model here.

Two choices, documented in docs/methods.md: the unit-ball constraint is a reparametrisation (each
embedding is divided by max(1, its norm) wherever it is used) rather than the original's clipping
of the updated rows after each step, so CML trains in the one loop like every other model; and the
original's rank-based weight of each hinge (WARP) and its covariance regulariser are left out (one
sampled negative per positive, as for BPR-MF). Latent distillation reads the constrained points
e(u), e(i). The score is not a dot product of two representations, so the paths that need one (the
sparse and unsampled RRD, the item side, DCD) refuse CML.
"""
import torch
import torch.nn.functional as F

from Models.base import BaseModel, normal_table

MARGIN = 0.5


def into_unit_ball(x):
    """x [..., d] -> x / max(1, ||x||) row-wise."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1.0)


def negative_squared_distance(a, b):
    """a [..., d], b [..., d] (broadcast) -> -||a - b||^2 [...]."""
    return -((a - b) ** 2).sum(-1)


class CML(BaseModel):
    name = "CML"
    loss_name = "hinge"

    def __init__(self, n_users, n_items, dim):
        super().__init__()
        self.n_users, self.n_items, self.dim, self.repr_dim = n_users, n_items, dim, dim
        self.user_emb, self.item_emb = normal_table(n_users, dim), normal_table(n_items, dim)

    def tables(self):
        return [self.user_emb, self.item_emb]

    def train_loss(self, batch):
        """SUM_b [m + d(u, i)^2 - d(u, j)^2]_+ over the batch's triples."""
        scores = self.batch_scores(batch, batch.users, torch.stack([batch.pos, batch.neg], 1))
        return F.relu(MARGIN - scores[:, 0] + scores[:, 1]).sum()

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
