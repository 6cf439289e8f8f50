"""BPR-MF (Rendle et al., UAI'09): score(u, i) = <e_u, e_i>, trained with the pairwise BPR loss.

Embeddings initialised N(0, 0.01^2); the loss is a SUM over the batch (docs/methods.md, "BPR").
The loss's gradient is computed in closed form and added into the row-sparse gradients directly (no
autograd graph for the base term); scores of many pairs use the sparse product of Utils.tensors.pair_scores.
"""
import torch
import torch.nn.functional as F

from Models.base import BaseModel, normal_table
from Utils.tensors.pair_scores import pair_scores


def bpr_loss(user_rows, pos_rows, neg_rows):
    """L_BPR = - SUM_b log sigmoid(<u_b, i_b> - <u_b, j_b>).  rows: [B, d] each -> scalar."""
    difference = (user_rows * (pos_rows - neg_rows)).sum(1)
    return -F.logsigmoid(difference).sum()


def bpr_loss_and_grads(user_rows, pos_rows, neg_rows):
    """L_BPR and its gradients in closed form (no autograd graph), rows [B, d] each.

    With x_b = <u_b, i_b - j_b>:  L = SUM_b softplus(-x_b),  dL/dx_b = -sigmoid(-x_b) =: g_b,
    dL/du_b = g_b (i_b - j_b),  dL/di_b = g_b u_b,  dL/dj_b = -g_b u_b.
    -> (loss scalar, grad_user [B, d], grad_pos [B, d], grad_neg [B, d]).
    """
    difference = pos_rows - neg_rows
    x = (user_rows * difference).sum(1)
    g = -torch.sigmoid(-x).unsqueeze(1)
    grad_pos = g * user_rows
    return F.softplus(-x).sum(), g * difference, grad_pos, -grad_pos


class BPR(BaseModel):
    """Matrix factorisation: user_emb [n_users, dim], item_emb [n_items, dim]."""
    name = "BPR"
    loss_name = "BPR"
    dot_product = True

    def __init__(self, n_users, n_items, dim):
        super().__init__()
        self.n_users, self.n_items, self.dim, self.repr_dim = n_users, n_items, dim, dim
        self.user_emb = normal_table(n_users, dim)
        self.item_emb = normal_table(n_items, dim)

    def tables(self):
        return [self.user_emb, self.item_emb]

    def train_loss(self, batch):
        """L_BPR of the batch; its gradient is added straight into the batch's row gradients."""
        items = torch.cat([batch.pos, batch.neg])
        user_rows = F.embedding(batch.users, self.user_emb.detach())
        item_rows = F.embedding(items, self.item_emb.detach())
        loss, grad_user, grad_pos, grad_neg = bpr_loss_and_grads(user_rows, *item_rows.chunk(2))
        batch.grads.add(self.user_emb, batch.users, grad_user)
        batch.grads.add(self.item_emb, items, torch.cat([grad_pos, grad_neg]))
        return loss

    def batch_scores(self, batch, users, items):
        return pair_scores(batch.rows(self.user_emb, users), batch.whole(self.item_emb), items)

    def batch_user_repr(self, batch, users):
        return batch.rows(self.user_emb, users)

    def batch_item_repr(self, batch, items):
        return batch.rows(self.item_emb, items)

    def user_repr(self, users):
        return self.user_emb[users]

    def item_repr(self, items):
        return self.item_emb[items]

    def score(self, users, items):
        """users [B], items [B, C] -> scores [B, C]."""
        return torch.bmm(self.item_emb[items], self.user_emb[users].unsqueeze(2)).squeeze(2)

    def score_all(self, users):
        """users [B] -> scores [B, n_items]."""
        return self.user_emb[users] @ self.item_emb.T

    def score_candidates(self, users, scorer):
        return scorer(self.user_emb[users], self.item_emb)
