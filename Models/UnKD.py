"""Unbiased Knowledge Distillation (UnKD), Chen et al., WSDM'23: the teacher's soft ranking is biased
towards popular items, so items are split into popularity groups and the student learns the teacher's
order of item pairs drawn *within* each group (docs/methods.md, UnKD).

Groups, once, from the training pairs (the release's ``splitGroup``): items by training popularity c_i, most
popular first (ties by first appearance in the training pairs), filled greedily into groups of about
equal total popularity: an item that takes a group's total past SUM_i c_i / G starts the next group
(unless it is the group's only item, which then closes it); a last group holding less than half of
SUM / G joins the previous one. Items never trained on belong to no group and are never drawn.

Pairs per group, once: a_g = the group's mean popularity, r_g = max(round((max a + min a - a_g) /
SUM_h (max a + min a - a_h), 2), 0.1), shares q_g = r_g^lamda / SUM_h r_h^lamda (lamda 0: equal), and
n_g = round(q_g n) pairs, one more for each of the first groups while SUM_g n_g < n.

Lists, once: per user u and group g, u's unobserved items of g by the teacher's score, best first, at most
``list_len`` (1,000) of them.

Per epoch, per user and group: n_g pairs of list positions (a, b), each drawn independently with
P(a, b) proportional to w_a w_b for a != b, w_p = exp(-(p + 1) / T) (T = 20; p = 0.. the list's length - 1),
then ordered so that a < b: the item at a (ranked higher by the teacher) is the pair's positive. (The
release draws both positions with replacement and redraws the group's pairs until none ties: the same
distribution.) A user with fewer than two unobserved items in a group gets no pair from it.

Loss over the batch's triples (a user counts once per triple, as in the release):

    L_UnKD = lambda SUM_{b in batch} mean_{(i+, i-) of u_b} -log sigmoid(s(u_b, i+) - s(u_b, i-))
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from Models.method import Method
from Utils.tensors.csr import build_csr
from Utils.tensors.top_unobserved import top_unobserved_by


def popularity_groups(train_items, n_items, n_groups):
    """The release's greedy grouping (module docstring) -> [n_items] int64 group of each item, -1 for items
    without training pairs. One pass over the items, once per run."""
    counts = np.bincount(train_items, minlength=n_items)
    _, first = np.unique(train_items, return_index=True)
    seen = np.unique(train_items)
    order = seen[np.lexsort((first, -counts[seen]))]           # most popular first, ties by first appearance
    target = counts.sum() / n_groups
    groups, current, total = [], [], 0
    for item in order.tolist():
        current.append(item)
        total += counts[item]
        if total > target:
            if len(current) == 1:
                groups.append(current)
                current, total = [], 0
                continue
            current.pop()
            groups.append(current)
            current, total = [item], counts[item]
    if current:
        if total > target / 2 or not groups:
            groups.append(current)
        else:
            groups[-1].extend(current)
    out = np.full(n_items, -1, dtype=np.int64)
    for g, items in enumerate(groups):
        out[items] = g
    return out, counts


def pairs_per_group(group_of, counts, n_pairs, lamda):
    """n_g for each group (module docstring: the popularity-based shares, the release's rounding)."""
    n_groups = int(group_of.max()) + 1
    mean = [counts[group_of == g].sum() / (group_of == g).sum() for g in range(n_groups)]
    flipped = [max(mean) + min(mean) - m for m in mean]
    ratios = [max(round(f / sum(flipped), 2), 0.1) for f in flipped]
    powered = [math.pow(r, lamda) for r in ratios]
    shares = [p / sum(powered) for p in powered]
    sizes = [round(s * n_pairs) for s in shares]
    short = n_pairs - sum(sizes)
    return [size + (1 if g < short else 0) for g, size in enumerate(sizes)]


def draw_position_pairs(weights, k, generator):
    """k ordered position pairs (a < b) per row, each drawn independently with P(a, b) ~ w_a w_b, a != b.

    weights [n, L] >= 0 with at least two positive entries per row -> (a [n, k], b [n, k]) int64."""
    a = torch.multinomial(weights, k, replacement=True, generator=generator)
    b = torch.multinomial(weights, k, replacement=True, generator=generator)
    tied = a == b
    while tied.any():                                   # rejection: redraw both positions of a tied pair
        rows = torch.nonzero(tied)[:, 0]
        a[tied] = torch.multinomial(weights[rows], 1, replacement=True, generator=generator).squeeze(1)
        b[tied] = torch.multinomial(weights[rows], 1, replacement=True, generator=generator).squeeze(1)
        tied = a == b
    return torch.minimum(a, b), torch.maximum(a, b)


def unkd_loss(pos_scores, neg_scores, valid):
    """SUM over rows of the mean over a row's valid pairs of -log sigmoid(s+ - s-): [n, k] each, valid
    bool [n, k] -> scalar (a row without a valid pair adds 0)."""
    per_pair = -F.logsigmoid(pos_scores - neg_scores) * valid
    return (per_pair.sum(1) / valid.sum(1).clamp_min(1)).sum()


class UnKD(Method):
    """teacher: the frozen teacher; split: its training pairs (the groups and the lists)."""
    name = "UnKD"

    def __init__(self, teacher, split, generator, lmbda=1.0, n_groups=2, n_pairs=30, lamda=0.0, list_len=1000,
                 T=20.0):
        self.generator, self.lmbda, self.T = generator, lmbda, T
        device = generator.device
        group_of, counts = popularity_groups(split.train_items, split.n_items, n_groups)
        self.n_groups = int(group_of.max()) + 1
        self.sizes = pairs_per_group(group_of, counts, n_pairs, lamda)
        self.group_items = [int((group_of == g).sum()) for g in range(self.n_groups)]
        pointer, observed = build_csr(split.train_users, split.train_items, split.n_users, device)
        in_group = torch.from_numpy(group_of).to(device)
        train_group = in_group[observed]
        self.lists, self.lengths = [], []
        for g in range(self.n_groups):
            outside = in_group != g
            length = min(list_len, self.group_items[g])
            with torch.no_grad():
                self.lists.append(top_unobserved_by(lambda rows: teacher.score_all(rows).masked_fill(outside, -torch.inf),
                                                    split.n_users, pointer, observed, length, device))
            trained = torch.zeros(split.n_users, dtype=torch.int64, device=device).index_add_(
                0, torch.repeat_interleave(torch.arange(split.n_users, device=device), pointer[1:] - pointer[:-1]),
                (train_group == g).long())
            self.lengths.append(torch.clamp(self.group_items[g] - trained, max=length))      # [n_users]
        self.pos = self.neg = self.valid = None

    def start_epoch(self, epoch):
        pos, neg, valid = [], [], []
        for g, k in enumerate(self.sizes):
            if k == 0:
                continue
            lists, lengths = self.lists[g], self.lengths[g]
            positions = torch.arange(lists.shape[1], device=lists.device)
            weights = torch.exp(-(positions + 1).float() / self.T).expand(len(lists), -1)
            usable = lengths >= 2
            weights = torch.where(usable.unsqueeze(1), weights * (positions < lengths.unsqueeze(1)), weights)
            if lists.shape[1] < 2:                                  # a group of one item: nothing to order
                pos.append(lists[:, :1].expand(-1, k))
                neg.append(lists[:, :1].expand(-1, k))
                valid.append(torch.zeros(len(lists), k, dtype=torch.bool, device=lists.device))
                continue
            a, b = draw_position_pairs(weights, k, self.generator)
            pos.append(torch.gather(lists, 1, a))
            neg.append(torch.gather(lists, 1, b))
            valid.append(usable.unsqueeze(1).expand(-1, k))
        self.pos, self.neg, self.valid = torch.cat(pos, 1), torch.cat(neg, 1), torch.cat(valid, 1)
        return {}

    def loss(self, batch):
        users = batch.users
        k = self.pos.shape[1]
        scores = batch.scores(users, torch.cat([self.pos[users], self.neg[users]], 1))      # [B, 2k]
        return {"UnKD": self.lmbda * unkd_loss(scores[:, :k], scores[:, k:], self.valid[users])}

    def describe(self):
        return [f"UnKD:: {self.n_groups} popularity groups of {self.group_items} items, {self.sizes} teacher-ordered "
                f"pairs per user and group each epoch, positions p ~ exp(-(p + 1) / {self.T:g}) within the group's "
                f"list, lambda {self.lmbda:g}"]
