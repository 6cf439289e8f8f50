"""User-based and item-based denoising autoencoders (HetComp's two autoencoder teacher families).

User-based (``--model uae``): a user is encoded from the items of its training row,
    h_u    = tanh( SUM_{j in I_u, kept} V_in[j] / ((1 - p) sqrt(|I_u|)) + b_in )       [d]
    s(u, i) = <h_u, V_out[i]> + c_i
where "kept" drops each input item with probability p = 0.5 while training (denoising) and keeps all
of them otherwise. Item-based (``--model iae``) is the same with users and items exchanged: an item is
encoded from the users of its column, s(u, i) = <W_out[u], h_i> + c_u.

Loss, in the one loop: the multinomial log-likelihood of the batch's interactions (Mult-DAE's output),
    L = - SUM_b log softmax_j s(u_b, j) [i_b]        (user-based: over all items j)
    L = - SUM_b log softmax_v s(v, i_b) [u_b]        (item-based: over all users v)
Each interaction is the target once per epoch, as in BPR's loop; the batch's sampled negative is not
used (the softmax normaliser already holds every item). The logits of the batch's unique encoded
rows are computed whole: [unique users x n_items] per batch (never users x items).

Representations for latent distillation: the encoding h and, on the other side, the output
embedding (V_out or W_out). The score has a bias, so it is not a plain dot product of the two: the
dot-product-only paths refuse these models. Input tables V_in / W_in train with row-sparse
gradients (a batch touches the rows of its users' items); the output side is dense.
"""
import torch
import torch.nn as nn

from Models.base import BaseModel, normal_table
from Utils.tensors.csr import build_csr, gather_rows

DROPOUT = 0.5
SCORE_CHUNK_ELEMENTS = 1 << 24      # rows x columns of full score rows built at a time in ``score``


class AutoEncoder(BaseModel):
    """The shared model; ``encoded`` says which side ('user' or 'item') is encoded from its row."""
    loss_name = "multinomial"
    encoded = "user"

    def __init__(self, n_users, n_items, dim):
        super().__init__()
        self.n_users, self.n_items, self.dim, self.repr_dim = n_users, n_items, dim, dim
        n_encoded, n_other = (n_users, n_items) if self.encoded == "user" else (n_items, n_users)
        self.n_encoded, self.n_other = n_encoded, n_other
        self.input_emb = normal_table(n_other, dim)            # rows of the other side, summed into h
        self.input_bias = nn.Parameter(torch.zeros(dim))
        self.output_emb = normal_table(n_other, dim)             # dense: every row in every step's softmax
        self.output_bias = nn.Parameter(torch.zeros(n_other))
        self.pointer = self.neighbors = None

    def attach(self, split):
        """The training rows to encode from (CSR of the encoded side), on the model's device."""
        rows, cols = (split.train_users, split.train_items) if self.encoded == "user" else \
            (split.train_items, split.train_users)
        self.pointer, self.neighbors = build_csr(rows, cols, self.n_encoded, self.input_emb.device)
        return self

    def tables(self):
        return [self.input_emb]

    # ---- encoding ---------------------------------------------------------------------------------
    def _encode(self, rows, take, dropout):
        """rows [B] of the encoded side -> h [B, d]; take(table, index) gives table rows."""
        if self.pointer is None:
            raise RuntimeError(f"{self.name} needs its training rows: call attach(split) first")
        owner, neighbor = gather_rows(self.pointer, self.neighbors, rows)
        counts = (self.pointer[rows + 1] - self.pointer[rows]).clamp_min(1).to(self.input_bias.dtype)
        summed_rows = take(self.input_emb, neighbor)
        if dropout:
            keep = torch.rand(len(neighbor), device=neighbor.device) >= DROPOUT
            summed_rows = summed_rows * (keep.unsqueeze(1) / (1 - DROPOUT))
        total = torch.zeros(len(rows), self.dim, device=rows.device, dtype=summed_rows.dtype).index_add(0, owner, summed_rows)
        return torch.tanh(total / counts.sqrt().unsqueeze(1) + self.input_bias)

    def encode(self, rows):
        """h of ``rows`` without dropout and without gradient bookkeeping of the batch."""
        return self._encode(rows, lambda table, index: table[index], dropout=False)

    # ---- the contract, written once for both sides ------------------------------------------------
    def _sides(self, users, items):
        """(encoded rows, other rows) of (users, items)."""
        return (users, items) if self.encoded == "user" else (items, users)

    def train_loss(self, batch):
        """- SUM_b log softmax over the other side of the batch's interactions (see the module doc)."""
        encoded, other = self._sides(batch.users, batch.pos)
        unique, inverse = torch.unique(encoded, return_inverse=True)
        h = self._encode(unique, batch.rows, dropout=self.training)
        logits = h @ self.output_emb.T + self.output_bias                        # [unique, n_other]
        return -(logits[inverse, other] - torch.logsumexp(logits, 1)[inverse]).sum()

    def _pair_scores(self, h_of, users, items):
        """users [n], items [n, W] -> [n, W]; h_of(rows) encodes rows of the encoded side."""
        if self.encoded == "user":
            return (h_of(users).unsqueeze(1) * self.output_emb[items]).sum(-1) + self.output_bias[items]
        unique, inverse = torch.unique(items, return_inverse=True)
        h = h_of(unique)[inverse]                                                 # [n, W, d]
        return (self.output_emb[users].unsqueeze(1) * h).sum(-1) + self.output_bias[users].unsqueeze(1)

    def batch_scores(self, batch, users, items):
        return self._pair_scores(lambda rows: self._encode(rows, batch.rows, dropout=False), users, items)

    def batch_user_repr(self, batch, users):
        return self._encode(users, batch.rows, False) if self.encoded == "user" else self.output_emb[users]

    def batch_item_repr(self, batch, items):
        return self.output_emb[items] if self.encoded == "user" else self._encode(items, batch.rows, False)

    def user_repr(self, users):
        return self.encode(users) if self.encoded == "user" else self.output_emb[users]

    def item_repr(self, items):
        return self.output_emb[items] if self.encoded == "user" else self.encode(items)

    def _every_item(self):
        """h of every item (item-based)."""
        return self.encode(torch.arange(self.n_items, device=self.output_emb.device))

    def _score_rows(self, users, every_item):
        if self.encoded == "user":
            return self.encode(users) @ self.output_emb.T + self.output_bias
        return self.output_emb[users] @ every_item.T + self.output_bias[users].unsqueeze(1)

    def score_all(self, users):
        """users [B] -> [B, n_items]."""
        return self._score_rows(users, self._every_item() if self.encoded == "item" else None)

    def score(self, users, items):
        """users [B], items [B, C] -> [B, C]: from full score rows (chunks of users, the items encoded
        once) when that is cheaper than encoding every listed item."""
        if self.encoded == "user" and items.shape[1] * self.dim < self.n_items:
            return self._pair_scores(self.encode, users, items)
        every_item = self._every_item() if self.encoded == "item" else None
        step = max(1, SCORE_CHUNK_ELEMENTS // self.n_items)
        return torch.cat([self._score_rows(users[s:s + step], every_item).gather(1, items[s:s + step])
                          for s in range(0, len(users), step)]) if len(users) else \
            items.new_zeros(items.shape, dtype=self.output_emb.dtype)


class UserAutoEncoder(AutoEncoder):
    name = "UAE"
    encoded = "user"


class ItemAutoEncoder(AutoEncoder):
    name = "IAE"
    encoded = "item"
