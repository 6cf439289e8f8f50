"""The base-model contract: what the training loop, the evaluator, the ranking-list builder and every
distillation method may ask of a recommender (docs/methods.md).

A base model owns its parameters and gives
  tables()                    embedding tables [n, d] trained with row-sparse gradients (a batch
                              takes rows of them through ``Batch.rows``);
  dense_parameters()          everything else trainable (plain autograd);
  train_loss(batch)           its own loss on the batch's (user, positive, negative) triples, a
                              scalar; a model with a closed-form gradient may add it into the
                              batch's gradients itself and return a loss without a graph;
  batch_scores(batch, u, i)   users [n], items [n, W] -> scores [n, W], differentiable, its rows
                              taken through the batch (what ranking methods train on);
  batch_user_repr(batch, u),  the user / item representations latent distillation reads [n, r],
  batch_item_repr(batch, i)   differentiable, and ``user_repr`` / ``item_repr`` without gradient;
  score(users, items)         [B] x [B, C] -> [B, C] (evaluation, a teacher's soft labels);
  score_all(users)            [B] -> [B, n_items] (full ranking, ranking lists);
  score_candidates(users, s)  evaluation scores of a fixed candidate matrix (default: ``score``);
  repr_dim, dot_product       the representation size; whether score = <user repr, item repr>
                              (the sparse and unsampled RRD paths and the item side need it).
"""
import torch
import torch.nn as nn


class BaseModel(nn.Module):
    name = "base"
    loss_name = "base"
    dot_product = False
    repr_dim = 0

    @classmethod
    def representation_size(cls, dim):
        """repr_dim of a model of embedding size ``dim`` (before one exists)."""
        return dim

    def tables(self):
        raise NotImplementedError

    def dense_parameters(self):
        table_ids = {id(t) for t in self.tables()}
        return [p for p in self.parameters() if id(p) not in table_ids]

    def train_loss(self, batch):
        raise NotImplementedError

    def batch_scores(self, batch, users, items):
        raise NotImplementedError

    def batch_user_repr(self, batch, users):
        raise NotImplementedError

    def batch_item_repr(self, batch, items):
        raise NotImplementedError

    def user_repr(self, users):
        raise NotImplementedError

    def item_repr(self, items):
        raise NotImplementedError

    def score(self, users, items):
        raise NotImplementedError

    def score_all(self, users):
        raise NotImplementedError

    def score_candidates(self, users, scorer):
        """users [B], scorer: Utils.training.evaluation.SampledScorer over a fixed [B, C] item matrix -> [B, C]."""
        return self.score(users, scorer.items)


def normal_table(n, dim):
    """An embedding table initialised N(0, 0.01^2), as the original's."""
    return nn.Parameter(torch.randn(n, dim) * 0.01)
