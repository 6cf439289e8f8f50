"""Relaxed Ranking Distillation (RRD), Kang et al., CIKM'20; docs/methods.md, RRD.

For user u with teacher ranking list R_u (top unobserved items, teacher order):
  interesting items   a_1..a_K: student scores of K positions of R_u drawn without replacement with
                      weights exp(-p / T), kept in teacher order;
  uninteresting items b_1..b_L: student scores of L items drawn uniformly outside train(u) and R_u;
  l(u) = - SUM_k [ a_k - log( SUM_{m>=k} exp(a_m) + SUM_l exp(b_l) ) ]
a Plackett-Luce likelihood of the teacher's order in which every normaliser also holds the
uninteresting items. The unsampled variant (the authors' WWW'23 finding) takes the list's first K
items and puts all remaining unobserved items into each normaliser. IR-RRD mirrors the loss on the
item side (per item, its teacher-ranked users).
"""
import torch

from Models.method import Method
from Utils.tensors.csr import build_csr, gather_rows
from Utils.tensors.masked_logsumexp import MaskedLogSumExp
from Utils.tensors.pair_scores import pair_scores
from Utils.tensors.sampling import PairSet, gumbel_like, sample_distinct_excluding, torch_draw

ABSENT = -1e30      # an absent list entry's score: exp() of it is 0 even in float64, and it stays finite


def relaxed_ranking_loss(interesting, log_rest, present=None):
    """l = - SUM_k [ a_k - log( SUM_{m>=k} exp(a_m) + exp(log_rest) ) ] per row, in log-sum-exp form.

    interesting [n, K] (teacher order), log_rest [n] = log of the mass added to every normaliser
    -> [n] losses. present [n, K] bool (optional): rows of different lengths, their entries first;
    an absent entry adds no term and nothing to any normaliser. Each row is shifted by its largest value c (so no exp exceeds 1) and the suffix
    sums are taken in float64: log_norm_k = c + log( SUM_{m>=k} exp(a_m - c) + exp(log_rest - c) ).
    Only if a row's values span more than float64's range (~700) would a sum underflow to 0; then
    the row-wise logcumsumexp form (exact at any range, 3x slower on CPU) is used instead.
    """
    if present is not None:
        interesting = interesting.masked_fill(~present, ABSENT)
    c = torch.maximum(interesting.max(1).values, log_rest).detach().unsqueeze(1)     # [n, 1]
    suffix = torch.exp((interesting - c).double()).flip(1).cumsum(1).flip(1)
    total = suffix + torch.exp((log_rest.unsqueeze(1) - c).double())
    if bool((total > 0).all()):
        log_norm = (torch.log(total) + c.double()).to(interesting.dtype)
    else:
        log_norm = torch.logaddexp(torch.logcumsumexp(interesting.flip(1), dim=1).flip(1), log_rest.unsqueeze(1))
    terms = interesting - log_norm
    return -(terms if present is None else terms * present).sum(1)


def sampled_rrd_loss(interesting, uninteresting):
    """RRD with sampled uninteresting items: interesting [n, K], uninteresting [n, L] -> [n]."""
    return relaxed_ranking_loss(interesting, torch.logsumexp(uninteresting, dim=1))


def sample_positions(n_rows, k, length, temperature, generator):
    """k distinct list positions per row, without replacement with weight exp(-p / T) for p = 1..length,
    sorted ascending (teacher order). Gumbel-top-k: the top k of (-p / T + Gumbel) is a draw without
    replacement proportional to the weights. -> [n_rows, k] int64 (0-based positions)."""
    device = generator.device
    logits = -torch.arange(1, length + 1, device=device, dtype=torch.float32) / temperature
    gumbel = gumbel_like(torch.empty((n_rows, length), device=device), generator)
    return torch.topk(logits + gumbel, k, dim=1).indices.sort(dim=1).values


class RankingSampler:
    """Per-epoch interesting / uninteresting sampling for one side, vectorised over all rows.

    lists [n_rows, length]: teacher ranking lists; train_rows/train_cols: observed pairs of that side.
    """

    def __init__(self, lists, train_rows, train_cols, n_cols, K, L, T, generator):
        self.lists, self.K, self.L, self.T, self.generator = lists, K, L, T, generator
        n_rows, length = lists.shape
        rows = torch.arange(n_rows, device=lists.device)
        self.excluded = PairSet(torch.cat([train_rows, rows.repeat_interleave(length)]),
                                torch.cat([train_cols, lists.reshape(-1)]), n_cols)
        self.n_cols, self.rows = n_cols, rows
        self.interesting = self.uninteresting = None

    def resample(self):
        positions = sample_positions(len(self.rows), self.K, self.lists.shape[1], self.T, self.generator)
        self.interesting = torch.gather(self.lists, 1, positions)
        self.uninteresting = sample_distinct_excluding(self.rows, self.L, self.n_cols, self.excluded,
                                                       torch_draw(self.generator))


def check_enough_unobserved(n_observed, n_cols, needed, what):
    short = int(n_observed.max()) if len(n_observed) else 0
    if n_cols - short < needed:
        from Utils.errors import InputError
        raise InputError(f"{what}: a row has only {n_cols - short} unobserved candidates, "
                         f"fewer than the {needed} needed (list length + L)")


class URRD(Method):
    """User-side RRD term lambda * SUM_{unique batch users} l(u) (the original's 'URRD')."""
    name = "URRD"

    def __init__(self, lists, split, generator, lmbda=1e-3, K=40, L=40, T=10.0, sampling="paper"):
        device = lists.device
        self.lists, self.lmbda, self.K, self.sampling = lists, lmbda, K, sampling
        self.n_items = split.n_items
        train_users = torch.from_numpy(split.train_users).to(device)
        train_items = torch.from_numpy(split.train_items).to(device)
        check_enough_unobserved(torch.bincount(train_users), split.n_items, lists.shape[1] + L, "URRD")
        if sampling == "paper":
            self.sampler = RankingSampler(lists, train_users, train_items, split.n_items, K, L, T, generator)
        else:
            self.name = "URRD-unsampled"
            self.train_ptr, self.train_items = build_csr(split.train_users, split.train_items, split.n_users, device)

    def start_epoch(self, epoch):
        if self.sampling == "paper":
            self.sampler.resample()
        return {}

    def loss(self, batch):
        users = torch.unique(batch.users)
        if self.sampling == "paper":
            items = torch.cat([self.sampler.interesting[users], self.sampler.uninteresting[users]], 1)
            scores = batch.scores(users, items)                               # [n, K + L]
            return {"URRD": self.lmbda * sampled_rrd_loss(scores[:, :self.K], scores[:, self.K:]).sum()}
        user_rows = batch.user_rows(users)                                    # dot-product models only
        listed = self.lists[users, :self.K]
        items = batch.item_table()
        a = pair_scores(user_rows, items, listed)
        rows, cols = excluded_pairs(self.train_ptr, self.train_items, users, listed)
        log_rest = MaskedLogSumExp.apply(user_rows, items, rows, cols)
        return {"URRD": self.lmbda * relaxed_ranking_loss(a, log_rest).sum()}


def excluded_pairs(train_ptr, train_items, users, listed):
    """The (row in batch, item) pairs left out of rest(u): each user's train items (CSR train_ptr,
    train_items) and its listed items [n, K], sorted by row (what MaskedLogSumExp expects)."""
    owner, observed = gather_rows(train_ptr, train_items, users)
    rows = torch.arange(len(users), device=users.device)
    all_rows = torch.cat([owner, rows.repeat_interleave(listed.shape[1])])
    all_cols = torch.cat([observed, listed.reshape(-1)])
    order = torch.argsort(all_rows, stable=True)
    return all_rows[order], all_cols[order]


class IRRRD(Method):
    """Item-side RRD (IR-RRD): per item, its teacher-ranked users; applied to the unique items among
    the batch users' interesting and uninteresting items (docs/methods.md, RRD)."""
    name = "IR"

    def __init__(self, item_lists, split, generator, user_side, lmbda=5e-4, K=20, L=20, T=10.0):
        device = item_lists.device
        self.lmbda, self.user_side = lmbda, user_side
        train_users = torch.from_numpy(split.train_users).to(device)
        train_items = torch.from_numpy(split.train_items).to(device)
        check_enough_unobserved(torch.bincount(train_items), split.n_users, item_lists.shape[1] + L, "IR-RRD")
        self.sampler = RankingSampler(item_lists, train_items, train_users, split.n_users, K, L, T, generator)

    def start_epoch(self, epoch):
        self.sampler.resample()
        return {}

    def loss(self, batch):
        users = torch.unique(batch.users)
        side = self.user_side.sampler
        items = torch.unique(torch.cat([side.interesting[users].reshape(-1), side.uninteresting[users].reshape(-1)]))
        item_rows = batch.item_rows(items)
        users_of = torch.cat([self.sampler.interesting[items], self.sampler.uninteresting[items]], 1)
        scores = batch.user_scores(item_rows, users_of)                       # [n_items, K_I + L_I]
        K = self.sampler.K
        return {"IR": self.lmbda * sampled_rrd_loss(scores[:, :K], scores[:, K:]).sum()}
