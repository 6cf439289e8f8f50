"""The contract between the training loop and a distillation method: ``Method`` and the ``Batch``
it receives (docs/methods.md).

A method owns its extra trainable modules, may resample or anneal at the start of each epoch, and
returns its loss terms already multiplied by their lambda. Plain BPR is the method with no term;
DE-RRD is DE and RRD combined, not a third copy.

The gradient rule: a method takes the student's rows and tables only through the ``Batch``
(``user_rows``, ``item_rows``, ``item_table``, ``item_scores``...), whose gradients flow into the
row-sparse accumulator. Indexing ``batch.student.item_emb`` with autograd would give the Parameter a
gradient of its own that the optimiser step never sees; the training loop refuses that with an
error (``Utils.tensors.row_gradients.guard_against_direct_use``). Reading the student without gradient
(``batch.student.score`` under ``torch.no_grad``) is allowed.
"""
from dataclasses import dataclass, field

import torch

from Utils.tensors.pair_scores import pair_scores
from Utils.tensors.row_gradients import RowGradients


@dataclass
class Batch:
    """One mini-batch of training triples, and the only way a method reaches the student.

    ``scores``, ``user_repr`` and ``item_repr`` work for every base model (Models/base.py);
    ``user_rows`` ... ``user_scores`` are the dot-product models' tables (BPR-MF) for the paths that
    need them (unsampled RRD, the item side)."""
    users: torch.Tensor      # [B]
    pos: torch.Tensor        # [B]
    neg: torch.Tensor        # [B]
    student: torch.nn.Module
    grads: RowGradients
    cache: dict = field(default_factory=dict)   # a model's per-batch intermediates (LightGCN's propagation)

    def rows(self, table, index):
        """Rows ``index`` [...] of one of the student's tables -> [..., d] (gradient flows)."""
        return self.grads.rows(table, index.reshape(-1)).reshape(*index.shape, table.shape[1])

    def whole(self, table):
        """One of the student's tables whole [n, d] (no copy; gradient flows)."""
        return self.grads.whole(table)

    def scores(self, users, items):
        """The student's scores: users [n], items [n, W] -> [n, W] (gradient flows)."""
        return self.student.batch_scores(self, users, items)

    def user_repr(self, users):
        """The student's user representations [n, r] (gradient flows)."""
        return self.student.batch_user_repr(self, users)

    def item_repr(self, items):
        """The student's item representations [n, r] (gradient flows)."""
        return self.student.batch_item_repr(self, items)

    def user_rows(self, index):
        """index [...] -> student user embeddings [..., d] (dot-product models; gradient flows)."""
        return self.rows(self.student.user_emb, index)

    def item_rows(self, index):
        """index [...] -> student item embeddings [..., d] (dot-product models; gradient flows)."""
        return self.rows(self.student.item_emb, index)

    def item_table(self):
        """The whole student item table [n_items, d] (dot-product models; gradient flows)."""
        return self.whole(self.student.item_emb)

    def user_table(self):
        """The whole student user table [n_users, d] (dot-product models; gradient flows)."""
        return self.whole(self.student.user_emb)

    def item_scores(self, user_rows, items):
        """user_rows [n, d] (from user_rows), items [n, W] -> scores [n, W]; gradient flows to both."""
        return pair_scores(user_rows, self.item_table(), items)

    def user_scores(self, item_rows, users):
        """item_rows [n, d] (from item_rows), users [n, W] -> scores [n, W]; gradient flows to both."""
        return pair_scores(item_rows, self.user_table(), users)


class Method:
    """No distillation: the student (or the teacher) trained with its base loss alone.

    ``base_loss``: whether the student's own loss (BPR, ...) is trained beside the method's terms
    (HetComp's student learns from its teachers' ranking alone)."""
    name = "none"
    base_loss = True

    def parameters(self):
        """Extra trainable parameters (trained by the same Adam as the embeddings)."""
        return []

    def start_epoch(self, epoch):
        """Called before each epoch's training; returns values to log (e.g. the temperature)."""
        return {}

    def loss(self, batch):
        """batch: Batch -> {term name: weighted scalar tensor}."""
        return {}

    def end_epoch(self):
        """Called after each epoch's training; returns statistics to log."""
        return {}

    def describe(self):
        """Lines for the head of the human log (parameter counts, settings)."""
        return []


class Combined(Method):
    """The sum of several methods' terms (DE-RRD = DE + RRD)."""

    def __init__(self, methods):
        self.methods = list(methods)
        self.name = "-".join(m.name for m in self.methods)
        self.base_loss = all(m.base_loss for m in self.methods)

    def parameters(self):
        return [p for m in self.methods for p in m.parameters()]

    def start_epoch(self, epoch):
        logged = {}
        for m in self.methods:
            logged.update(m.start_epoch(epoch))
        return logged

    def loss(self, batch):
        terms = {}
        for m in self.methods:
            terms.update(m.loss(batch))
        return terms

    def end_epoch(self):
        stats = {}
        for m in self.methods:
            stats.update(m.end_epoch())
        return stats

    def describe(self):
        return [line for m in self.methods for line in m.describe()]
