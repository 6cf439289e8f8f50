"""LightGCN (He et al., SIGIR'20): embeddings propagated over the user-item graph (docs/methods.md).

    E^(0) = [user table ; item table],   E^(k+1) = A_hat E^(k),   E = mean_{k=0..L} E^(k)
    A_hat = D^-1/2 A D^-1/2 over the symmetric bipartite graph of the training interactions
    s(u, i) = <E_u, E_i>
trained with BPR on the propagated embeddings plus l2 / 2 (||e0_u||^2 + ||e0_i||^2 + ||e0_j||^2) on
the layer-0 rows of each batch triple (reference: 3 layers, l2 1e-4, run with ``--reg 0``, since that
L2 replaces Adam's weight decay). The graph comes from the split (``attach``); propagation is a sparse
product over the interactions (a few milliseconds per batch on CiteULike), computed once per batch
and shared by every term, so nothing users x items exists. A frozen LightGCN (a teacher: its tables
no longer require gradients) keeps its propagated tables, so a teacher's graph is propagated once per
run rather than three times per batch, with the same numbers. Scores are dot products of *propagated*
embeddings, so the paths that read the layer-0 tables as if they scored (unsampled RRD, the item
side) refuse this model.
"""
import torch
import torch.nn.functional as F

from Models.base import BaseModel, normal_table


def normalized_adjacency(train_users, train_items, n_users, n_items, device):
    """A_hat [n_users + n_items, same] as a sparse COO tensor: 1 / sqrt(deg(a) deg(b)) per edge, both ways."""
    users = torch.as_tensor(train_users, device=device)
    items = torch.as_tensor(train_items, device=device) + n_users
    rows, cols = torch.cat([users, items]), torch.cat([items, users])
    degree = torch.bincount(rows, minlength=n_users + n_items).double()
    values = (degree[rows] * degree[cols]).rsqrt().float()
    return torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (n_users + n_items,) * 2).coalesce()


class LightGCN(BaseModel):
    name = "LightGCN"
    loss_name = "BPR"

    def __init__(self, n_users, n_items, dim, layers=3, l2=1e-4):
        super().__init__()
        self.n_users, self.n_items, self.dim, self.repr_dim = n_users, n_items, dim, dim
        self.layers, self.l2 = layers, l2
        self.user_emb = normal_table(n_users, dim)
        self.item_emb = normal_table(n_items, dim)
        self.adjacency = None
        self._kept = None          # (the tables' storage and versions, their propagated tables) when frozen

    def attach(self, split):
        """Build the normalised graph of the split's training interactions on the model's device."""
        self.adjacency = normalized_adjacency(split.train_users, split.train_items, self.n_users, self.n_items,
                                              self.user_emb.device)
        self._kept = None
        return self

    def tables(self):
        return [self.user_emb, self.item_emb]

    def propagate(self, users_table, items_table):
        """-> (final user embeddings [n_users, d], final item embeddings [n_items, d])."""
        if self.adjacency is None:
            raise RuntimeError("LightGCN needs its graph: call attach(split) first")
        layer = torch.cat([users_table, items_table])
        total = layer
        for _ in range(self.layers):
            layer = torch.sparse.mm(self.adjacency, layer)
            total = total + layer
        final = total / (self.layers + 1)
        return final[:self.n_users], final[self.n_users:]

    def propagated(self):
        """The propagated tables: (users [n_users, d], items [n_items, d]).

        Kept while the model is frozen (its tables do not require gradients), keyed on the tables'
        storage and in-place versions (``load_state_dict`` bumps them; ``attach`` drops the kept tables).
        A model in training recomputes each call, under autograd as before: the fused Adam step writes
        the tables without bumping their versions, so a version key would keep stale tables.
        Memory: (n_users + n_items) x d."""
        tables = (self.user_emb, self.item_emb)
        if any(t.requires_grad for t in tables):
            return self.propagate(*tables)
        key = tuple((t.data_ptr(), t._version) for t in tables)
        if self._kept is None or self._kept[0] != key:
            with torch.no_grad():
                self._kept = (key, self.propagate(*tables))
        return self._kept[1]

    def _final(self, batch):
        """The propagated tables of this batch, computed once per batch (every term shares the graph)."""
        if id(self) not in batch.cache:
            batch.cache[id(self)] = self.propagate(batch.whole(self.user_emb), batch.whole(self.item_emb))
        return batch.cache[id(self)]

    def train_loss(self, batch):
        users_final, items_final = self._final(batch)
        u = users_final[batch.users]
        difference = (u * (items_final[batch.pos] - items_final[batch.neg])).sum(1)
        layer0 = (batch.rows(self.user_emb, batch.users).pow(2).sum() + batch.rows(self.item_emb, batch.pos).pow(2).sum()
                  + batch.rows(self.item_emb, batch.neg).pow(2).sum())
        return -F.logsigmoid(difference).sum() + 0.5 * self.l2 * layer0

    def batch_scores(self, batch, users, items):
        users_final, items_final = self._final(batch)
        return (users_final[users].unsqueeze(1) * items_final[items]).sum(-1)

    def batch_user_repr(self, batch, users):
        return self._final(batch)[0][users]

    def batch_item_repr(self, batch, items):
        return self._final(batch)[1][items]

    def user_repr(self, users):
        return self.propagated()[0][users]

    def item_repr(self, items):
        return self.propagated()[1][items]

    def score(self, users, items):
        users_final, items_final = self.propagated()
        return torch.bmm(items_final[items], users_final[users].unsqueeze(2)).squeeze(2)

    def score_all(self, users):
        users_final, items_final = self.propagated()
        return users_final[users] @ items_final.T
