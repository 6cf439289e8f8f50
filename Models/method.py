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
    negatives: torch.Tensor = None   # [B, U] every negative of each pair (``neg`` is the first) when the base model
                                     # draws several (its ``negatives_per_triple``: CML's WARP); else None

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


def _resolve(obj, path):
    """(owner, attribute name) of a dotted ``path`` under ``obj``; owner None when a link is None."""
    *links, last = path.split(".")
    for link in links:
        obj = getattr(obj, link)
        if obj is None:
            return None, last
    return obj, last


class Method:
    """No distillation: the student (or the teacher) trained with its base loss alone.

    ``base_loss``: whether the student's own loss (BPR, ...) is trained beside the method's terms
    (HetComp's student learns from its teachers' ranking alone).

    ``carried``: the dotted names of the attributes that carry from one epoch to the next (modules,
    tensors, plain values): a run stopped after an epoch and resumed continues exactly when these are
    restored, since everything else a method holds is rebuilt identically from the flags and the teacher
    or redrawn at each ``start_epoch`` from the run's generator (whose state the trainer restores).
    ``tests/test_resume.py`` fails for a method that forgets one."""
    name = "none"
    base_loss = True
    carried = ()

    def parameters(self):
        """Extra trainable parameters (trained by the same Adam as the embeddings)."""
        return []

    def state_dict(self):
        """{dotted name: module state dict, tensor or plain value} of ``carried`` (a name under a None
        attribute is left out)."""
        state = {}
        for path in self.carried:
            owner, attr = _resolve(self, path)
            if owner is None:
                continue
            value = getattr(owner, attr)
            state[path] = value.state_dict() if isinstance(value, torch.nn.Module) else value
        return state

    def load_state_dict(self, state, device):
        """Restore what :meth:`state_dict` returned, its tensors onto ``device``."""
        missing = [p for p in self.carried if _resolve(self, p)[0] is not None and p not in state]
        if missing or set(state) - set(self.carried):
            raise ValueError(f"{self.name}: saved state has {sorted(state)}, the method carries {list(self.carried)}")
        for path, value in state.items():
            owner, attr = _resolve(self, path)
            current = getattr(owner, attr)
            if isinstance(current, torch.nn.Module):
                current.load_state_dict(value)
            else:
                setattr(owner, attr, value.to(device) if isinstance(value, torch.Tensor) else value)

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

    def state_dict(self):
        return {str(i): m.state_dict() for i, m in enumerate(self.methods)}

    def load_state_dict(self, state, device):
        if sorted(state) != sorted(str(i) for i in range(len(self.methods))):
            raise ValueError(f"{self.name}: saved state is for {len(state)} methods, not {len(self.methods)}")
        for i, m in enumerate(self.methods):
            m.load_state_dict(state[str(i)], device)
