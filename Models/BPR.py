"""BPR-MF (Rendle et al., UAI'09): score(u, i) = <e_u, e_i>, trained with the pairwise BPR loss.

REFERENCE section 1: embeddings initialised N(0, 0.01^2); the loss is a SUM over the batch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


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


class BPR(nn.Module):
    """Matrix factorisation: user_emb [n_users, dim], item_emb [n_items, dim]."""

    def __init__(self, n_users, n_items, dim):
        super().__init__()
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.user_emb = nn.Parameter(torch.randn(n_users, dim) * 0.01)
        self.item_emb = nn.Parameter(torch.randn(n_items, dim) * 0.01)

    def score(self, users, items):
        """users [B], items [B, C] -> scores [B, C]."""
        return torch.bmm(self.item_emb[items], self.user_emb[users].unsqueeze(2)).squeeze(2)

    def score_all(self, users):
        """users [B] -> scores [B, n_items]."""
        return self.user_emb[users] @ self.item_emb.T
