"""NeuMF (He et al., WWW'17), as the DE-RRD paper uses it: a GMF and an MLP part on separate embeddings.

    GMF(u, i) = e^G_u * e^G_i                              (elementwise, [d])
    MLP(u, i) = relu(W [e^M_u ; e^M_i] + b)                (one hidden layer 2d -> d)
    s(u, i)   = w^T [GMF ; MLP] + b0
trained with binary cross-entropy on each positive (label 1) and its sampled negative (label 0),
summed over the batch. Teacher d = 250, student d = 25 (15.33 M / 1.52 M parameters on CiteULike).

The hidden layer is split as W [e^M_u ; e^M_i] = W_u e^M_u + W_i e^M_i, so scoring a user against
many items projects each side once. Latent distillation (DE) reads the concatenated embedding
[e^G ; e^M] (size 2d) of users and items: it is everything the model knows of an entity before the
two sides meet, the analogue of BPR's embedding.

One part alone (``part="gmf"`` or ``"mlp"``, ``--neumf_part``) is the NeuMF paper's GMF or MLP model:
s(u, i) = w_G^T GMF(u, i) + b_G, or w_M^T MLP(u, i) + b_M (the other part's tables exist but are never
used). :meth:`NeuMF.load_parts` is the NeuMF paper's pretraining (its release's ``load_pretrain_model``):
both parts' tables and layers copied in, the output layer [alpha w_G ; (1 - alpha) w_M], bias
alpha b_G + (1 - alpha) b_M, alpha = 0.5, so the combined model starts at alpha s_GMF + (1 - alpha) s_MLP.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from Models.base import BaseModel, normal_table

SCORE_ALL_CHUNK = 8      # users per chunk of score_all: [8, n_items, d] hidden activations at a time
PARTS = ("both", "gmf", "mlp")
PRETRAIN_ALPHA = 0.5     # the NeuMF paper's trade-off between the pretrained parts


class NeuMF(BaseModel):
    name = "NeuMF"
    loss_name = "BCE"

    def __init__(self, n_users, n_items, dim, part="both"):
        super().__init__()
        if part not in PARTS:
            raise ValueError(f"NeuMF part {part!r}: one of {PARTS}")
        self.n_users, self.n_items, self.dim, self.repr_dim = n_users, n_items, dim, 2 * dim
        self.part = part
        self.use_gmf, self.use_mlp = part in ("both", "gmf"), part in ("both", "mlp")
        self.gmf_user, self.gmf_item = normal_table(n_users, dim), normal_table(n_items, dim)
        self.mlp_user, self.mlp_item = normal_table(n_users, dim), normal_table(n_items, dim)
        self.hidden = nn.Linear(2 * dim, dim)
        self.out = nn.Linear(2 * dim, 1)

    @classmethod
    def representation_size(cls, dim):
        return 2 * dim

    def tables(self):
        return [self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item]

    def _split_weights(self):
        """W_u, W_i [d, d] (the hidden layer's user and item halves), w_gmf, w_mlp [d]."""
        w = self.hidden.weight
        return w[:, :self.dim], w[:, self.dim:], self.out.weight[0, :self.dim], self.out.weight[0, self.dim:]

    def _pair_scores(self, rows, users, items):
        """rows(table, index) -> rows; users [n], items [n, W] -> scores [n, W]."""
        w_user, w_item, w_gmf, w_mlp = self._split_weights()
        scores = self.out.bias[0]
        if self.use_gmf:
            gmf = (rows(self.gmf_user, users) * w_gmf).unsqueeze(1) * rows(self.gmf_item, items)
            scores = scores + gmf.sum(-1)
        if self.use_mlp:
            hidden = F.relu((rows(self.mlp_user, users) @ w_user.T).unsqueeze(1)
                            + rows(self.mlp_item, items) @ w_item.T + self.hidden.bias)
            scores = scores + hidden @ w_mlp
        return scores

    @torch.no_grad()
    def load_parts(self, gmf, mlp, alpha=PRETRAIN_ALPHA):
        """Start from a trained GMF part ``gmf`` and MLP part ``mlp`` (NeuMF models of this size with
        part "gmf" / "mlp"): their tables and hidden layer, the output layer [alpha w_G ; (1 - alpha) w_M]
        and bias alpha b_G + (1 - alpha) b_M (module docstring). -> self"""
        if self.part != "both" or (gmf.part, mlp.part) != ("gmf", "mlp") or gmf.dim != self.dim or mlp.dim != self.dim:
            raise ValueError("load_parts needs a full NeuMF and a GMF and an MLP part of its size")
        for name in ("gmf_user", "gmf_item"):
            getattr(self, name).copy_(getattr(gmf, name))
        for name in ("mlp_user", "mlp_item"):
            getattr(self, name).copy_(getattr(mlp, name))
        self.hidden.load_state_dict(mlp.hidden.state_dict())
        self.out.weight[0, :self.dim] = alpha * gmf.out.weight[0, :self.dim]
        self.out.weight[0, self.dim:] = (1 - alpha) * mlp.out.weight[0, self.dim:]
        self.out.bias.copy_(alpha * gmf.out.bias + (1 - alpha) * mlp.out.bias)
        return self

    def train_loss(self, batch):
        """- SUM_b [log sigmoid(s(u_b, i_b)) + log sigmoid(-s(u_b, j_b))]."""
        scores = self.batch_scores(batch, batch.users, torch.stack([batch.pos, batch.neg], 1))
        return -(F.logsigmoid(scores[:, 0]) + F.logsigmoid(-scores[:, 1])).sum()

    def batch_scores(self, batch, users, items):
        return self._pair_scores(batch.rows, users, items)

    def batch_user_repr(self, batch, users):
        return torch.cat([batch.rows(self.gmf_user, users), batch.rows(self.mlp_user, users)], 1)

    def batch_item_repr(self, batch, items):
        return torch.cat([batch.rows(self.gmf_item, items), batch.rows(self.mlp_item, items)], 1)

    def user_repr(self, users):
        return torch.cat([self.gmf_user[users], self.mlp_user[users]], 1)

    def item_repr(self, items):
        return torch.cat([self.gmf_item[items], self.mlp_item[items]], 1)

    def score(self, users, items):
        """users [B], items [B, C] -> scores [B, C]. When items outnumber the catalogue, the item half
        of the hidden layer is projected once for all items and gathered; users go in chunks so the
        [chunk, C, d] hidden activations stay small."""
        w_user, w_item, w_gmf, w_mlp = self._split_weights()
        if items.numel() > self.n_items:
            projected = self.mlp_item @ w_item.T + self.hidden.bias               # [n_items, d]
            item_hidden = lambda index: projected[index]                           # noqa: E731
        else:
            item_hidden = lambda index: self.mlp_item[index] @ w_item.T + self.hidden.bias  # noqa: E731
        user_gmf = self.gmf_user[users] * w_gmf                                    # [B, d]
        user_hidden = self.mlp_user[users] @ w_user.T                              # [B, d]
        step = max(1, (1 << 22) // max(1, items.shape[1] * self.dim))
        out = []
        for start in range(0, len(users), step):
            index = items[start:start + step]
            scores = self.out.bias[0].expand(index.shape)
            if self.use_gmf:
                scores = scores + (user_gmf[start:start + step].unsqueeze(1) * self.gmf_item[index]).sum(-1)
            if self.use_mlp:
                hidden = user_hidden[start:start + step].unsqueeze(1) + item_hidden(index)    # [chunk, C, d]
                scores = scores + hidden.relu_() @ w_mlp             # in place: one [chunk, C, d] buffer, not two
            out.append(scores)
        return torch.cat(out) if out else items.new_zeros(items.shape, dtype=self.gmf_user.dtype)

    def score_all(self, users):
        """users [B] -> scores [B, n_items]: the GMF part as one product, the MLP part in chunks of users."""
        w_user, w_item, w_gmf, w_mlp = self._split_weights()
        if self.use_gmf:
            scores = (self.gmf_user[users] * w_gmf) @ self.gmf_item.T + self.out.bias[0]
        else:
            scores = self.out.bias[0].expand(len(users), self.n_items).clone()
        if not self.use_mlp:
            return scores
        item_hidden = self.mlp_item @ w_item.T + self.hidden.bias                 # [n_items, d]
        user_hidden = self.mlp_user[users] @ w_user.T
        for start in range(0, len(users), SCORE_ALL_CHUNK):
            hidden = user_hidden[start:start + SCORE_ALL_CHUNK].unsqueeze(1) + item_hidden   # [chunk, n_items, d]
            scores[start:start + SCORE_ALL_CHUNK] += hidden.relu_() @ w_mlp
        return scores
