"""Distillation Experts (DE), Kang et al., CIKM'20, docs/methods.md, DE.

For users and, separately, items: M experts reconstruct the frozen teacher embedding t [d_t] from
the student embedding s [d_s]; a selection network on t picks experts by soft Gumbel-softmax:

    alpha = softmax(W t + b),   w = softmax((log(alpha + 1e-10) + g) / tau),  g ~ Gumbel(0, 1)
    t_hat = SUM_m w_m * Expert_m(s),   Expert_m(s) = W2_m relu(W1_m s + b1_m) + b2_m
    l(E)  = SUM_{e in E} || t_e - t_hat_e ||^2
    L_DE  = l(batch users) + 0.5 * (l(batch positive items) + l(batch negative items))   (unique each)

All M experts run as batched matrix products. When the selection is nearly one-hot (late in the
temperature schedule) the (entity, expert) pairs whose weight is below ``skip_ratio`` times the
entity's largest weight are skipped: their contribution is below float32 resolution of t_hat.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from Models.method import Method
from Utils.tensors.expert_mixture import chunk_for, dense_mixture
from Utils.tensors.expert_pairs import pair_mixture
from Utils.tensors.sampling import gumbel_like

DEFAULT_SKIP_RATIO = 2.0 ** -30   # 64x below float32 resolution (2^-24) of the selected expert's output


def hidden_size(d_s, d_t):
    """h = (d_t + d_s) // 2, or d_s // 2 when student and teacher dims are equal."""
    return d_s // 2 if d_s == d_t else (d_t + d_s) // 2


def temperature(epoch, tau_0=1.0, end_T=1e-10, max_epoch=1000):
    """Temperature of the epoch: tau_0 at epoch 0, then max(tau_0 (end_T/tau_0)^((epoch-1)/max_epoch), end_T)."""
    if epoch == 0:
        return tau_0
    return max(tau_0 * (end_T / tau_0) ** ((epoch - 1) / max_epoch), end_T)


class ExpertBank(nn.Module):
    """M two-layer experts d_s -> h -> d_t stored as stacked weights.

    W1 [M, d_s, h], b1 [M, h], W2 [M, h, d_t], b2 [M, d_t]; initialised like nn.Linear
    (uniform in +-1/sqrt(fan_in)).
    """

    def __init__(self, num_experts, d_s, d_t):
        super().__init__()
        h = hidden_size(d_s, d_t)
        self.num_experts, self.d_s, self.h, self.d_t = num_experts, d_s, h, d_t
        bound1, bound2 = 1 / math.sqrt(d_s), 1 / math.sqrt(h)
        self.W1 = nn.Parameter(torch.empty(num_experts, d_s, h).uniform_(-bound1, bound1))
        self.b1 = nn.Parameter(torch.empty(num_experts, h).uniform_(-bound1, bound1))
        self.W2 = nn.Parameter(torch.empty(num_experts, h, d_t).uniform_(-bound2, bound2))
        self.b2 = nn.Parameter(torch.empty(num_experts, d_t).uniform_(-bound2, bound2))

    def mixture_dense(self, s, w):
        """All pairs. s [n, d_s], w [n, M] -> t_hat [n, d_t]: H = relu(s W1_all + b1) [n, M*h],
        t_hat = (w (x) H) W2_stacked + w b2: the products whole, the elementwise work in cache-sized
        row chunks on the CPU (Utils/tensors/expert_mixture.py; the same numbers as autograd's form)."""
        return dense_mixture(s, w, self.W1, self.b1, self.W2, self.b2, chunk_for(s.device))

    def mixture_sparse(self, s, w, active):
        """Only the pairs in ``active`` ([n, M] bool), grouped by expert (Utils/tensors/expert_pairs.py:
        one product per expert on the CPU, tiles of a batched product elsewhere). -> t_hat [n, d_t]."""
        return pair_mixture(s, w, active, self.W1, self.b1, self.W2, self.b2)


class DistillationExperts(nn.Module):
    """Selection network + experts for one entity type (users or items)."""

    def __init__(self, num_experts, d_s, d_t, selection="gumbel", skip_ratio=DEFAULT_SKIP_RATIO):
        super().__init__()
        self.selector = nn.Linear(d_t, num_experts)
        self.experts = ExpertBank(num_experts, d_s, d_t)
        self.selection, self.skip_ratio = selection, skip_ratio
        self.pairs_computed = self.pairs_total = 0

    def weights(self, t, tau, noise=None):
        """t [n, d_t] -> selection weights w [n, M]. noise: Gumbel noise [n, M] (gumbel selection)."""
        alpha = F.softmax(self.selector(t), dim=1)
        if self.selection == "attention":
            return alpha
        return F.softmax((torch.log(alpha + 1e-10) + noise) / tau, dim=1)

    def reconstruct(self, s, w):
        """s [n, d_s], w [n, M] -> t_hat [n, d_t]; skips negligible pairs when that saves work."""
        self.pairs_total += w.numel()
        if self.skip_ratio > 0:
            active = w >= self.skip_ratio * w.max(dim=1, keepdim=True).values
            n_active = int(active.sum())
            if n_active * 2 < active.numel():
                self.pairs_computed += n_active
                return self.experts.mixture_sparse(s, w, active)
        self.pairs_computed += w.numel()
        return self.experts.mixture_dense(s, w)

    def loss(self, s, t, tau, noise=None):
        """l(E) = SUM_e ||t_e - t_hat_e||^2 for s [n, d_s], t [n, d_t] -> scalar."""
        return self.loss_and_weights(s, t, tau, noise)[0]

    def loss_and_weights(self, s, t, tau, noise=None):
        """(l(E), the selection weights w [n, M] it used): HTD groups entities by argmax w."""
        w = self.weights(t, tau, noise)
        t_hat = self.reconstruct(s, w)
        return ((t - t_hat) ** 2).sum(), w


class DE(Method):
    """The DE term lambda_DE * L_DE for the training loop (docs/methods.md, DE)."""
    name = "DE"
    carried = ("user_de", "item_de")       # experts and selection nets; tau follows from the epoch

    def __init__(self, teacher, d_s, generator, lmbda=0.01, num_experts=30, tau_0=1.0, end_T=1e-10,
                 max_epoch=1000, selection="gumbel", skip_ratio=DEFAULT_SKIP_RATIO):
        d_t = teacher.repr_dim
        self.teacher, self.generator, self.lmbda = teacher, generator, lmbda
        self.tau_0, self.end_T, self.max_epoch = tau_0, end_T, max_epoch
        device = next(teacher.parameters()).device
        self.user_de = DistillationExperts(num_experts, d_s, d_t, selection, skip_ratio).to(device)
        self.item_de = DistillationExperts(num_experts, d_s, d_t, selection, skip_ratio).to(device)
        self.tau = tau_0

    def parameters(self):
        return list(self.user_de.parameters()) + list(self.item_de.parameters())

    def start_epoch(self, epoch):
        self.tau = temperature(epoch, self.tau_0, self.end_T, self.max_epoch)
        return {"T": self.tau}

    def end_epoch(self):
        """The share of (entity, expert) pairs computed this epoch (the rest were negligible)."""
        modules = (self.user_de, self.item_de)
        computed, total = (sum(getattr(m, k) for m in modules) for k in ("pairs_computed", "pairs_total"))
        for m in modules:
            m.pairs_computed = m.pairs_total = 0
        return {"pairs_computed": computed / max(total, 1)}

    def _term(self, module, student_repr, teacher_repr, index):
        t = teacher_repr(index)
        noise = gumbel_like(t.new_empty(len(index), module.experts.num_experts), self.generator)
        return module.loss(student_repr(index), t, self.tau, noise)

    def loss(self, batch):
        users, pos, neg = (torch.unique(x) for x in (batch.users, batch.pos, batch.neg))
        loss = self._term(self.user_de, batch.user_repr, self.teacher.user_repr, users) + 0.5 * (
            self._term(self.item_de, batch.item_repr, self.teacher.item_repr, pos)
            + self._term(self.item_de, batch.item_repr, self.teacher.item_repr, neg))
        return {"DE": self.lmbda * loss}

    def describe(self):
        e, s = self.user_de.experts, self.user_de.selector
        n_sel = 2 * sum(p.numel() for p in s.parameters())
        n_exp = 2 * sum(p.numel() for p in e.parameters())
        return [f"Teacher Dim:: {e.d_t} Student Dim:: {e.d_s}",
                f"Expert dims:: [{e.d_s}, {e.h}, {e.d_t}] x {e.num_experts} experts, selection {self.user_de.selection}",
                f"Num. gate parameter:: {n_sel}  Num. expert parameter:: {n_exp}"]
