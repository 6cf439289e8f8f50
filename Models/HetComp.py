"""HetComp (Kang et al., WWW'23): a student distilled from an ensemble of heterogeneous teachers, each
followed along its training trajectory (docs/methods.md, HetComp).

Teachers t = 1..T each come as a trajectory: N_t checkpoints, each kept as every user's top-L
unobserved items (Utils/training/trajectory.py). Per user, each teacher has a current checkpoint v_t(u).

Ensemble ranking (our reading of the paper's Eq. 8; its release ships the importances precomputed):
    importance(u, i) = SUM_t exp(-r_t(u, i) / T_e)     r_t: 0-based position of i in checkpoint
                                                       v_t(u)'s list (no term when i is not in it)
    top(u) = the K items of highest importance (ties: lower item id first)

Student loss (the student learns from this alone, without BPR), per unique batch user, with s the
student's scores, P(u) the user's first P observed items in the teachers' order (below) and
    rest_M(u) = SUM_{j unobserved, j not in top(u)[:M]} exp(s_uj)      (the unsampled normaliser)
  stage 1 (some teacher not at its last checkpoint), weight lambda_1 = 0.01:
    l(u) = - SUM_{i in P(u) + top(u)} log( exp(s_ui) / (exp(s_ui) + rest_K(u)) )
  stage 2 (every teacher at its last checkpoint), weight lambda_2 = 0.005:
    l(u) = PL(P(u); rest_{K/2}) + 1/2 [ PL(top(u)[:K/2]; rest_{K/2}) + PL(top(u)[:K/10]; rest_{K/10}) ]
  PL(a; r) = - SUM_k [ a_k - log( SUM_{m>=k} exp(a_m) + r ) ]   (section 5's unsampled relaxed ranking)

Dynamic knowledge construction (the authors' rule), every p epochs from epoch p on, per teacher and
user, with d_v = 1 - NDCG@50 of the student's top 50 against checkpoint v's top 50 (gain
2^{exp(-t/T_n)} - 1 at the student's position t when its item is in the checkpoint's list):
    first time:  D = d_{v+1}      (the distance to the next checkpoint; nobody moves)
    later:       th = alpha * decay^(epoch // p);  R = D / d_{v+1}
                 when R > th (the student closed on the next checkpoint) or R < 1 (it drifted away):
                 v += 1 and D = d_{v+1} (of the new v)
"""
import torch
import torch.nn.functional as F

from Models.method import Method
from Models.RRD import excluded_pairs, relaxed_ranking_loss
from Utils.tensors.csr import build_csr
from Utils.tensors.masked_logsumexp import MaskedLogSumExp
from Utils.tensors.pair_scores import pair_scores
from Utils.tensors.top_unobserved import top_unobserved_by


def position_weights(length, temperature, device=None):
    """exp(-r / T) for r = 0 .. length-1 -> [length] float64."""
    return torch.exp(-torch.arange(length, device=device, dtype=torch.float64) / temperature)


def ensemble_top(lists, k, temperature, n_items):
    """lists [T, U, L] (each teacher's list per user, best first, distinct items) -> [U, k] int64:
    per user the k items of highest SUM_t exp(-r_t / T), ties to the lower item id. Needs k <= L."""
    n_teachers, n_users, length = lists.shape
    if k > length:
        raise ValueError(f"the ensemble's K ({k}) exceeds the teachers' list length ({length})")
    device = lists.device
    users = torch.arange(n_users, device=device).view(1, n_users, 1)
    keys = (users * n_items + lists.long()).reshape(-1)
    weights = position_weights(length, temperature, device).expand(n_teachers, n_users, length).reshape(-1)
    unique_keys, inverse = torch.unique(keys, return_inverse=True)          # sorted: by user, then item
    summed = torch.zeros(len(unique_keys), dtype=torch.float64, device=device).index_add_(0, inverse, weights)
    owner = unique_keys // n_items
    order = torch.argsort(-summed, stable=True)                             # ties keep the item order
    order = order[torch.argsort(owner[order], stable=True)]
    starts = torch.cumsum(torch.bincount(owner, minlength=n_users), 0) - torch.bincount(owner, minlength=n_users)
    take = order[starts.unsqueeze(1) + torch.arange(k, device=device)]
    return unique_keys[take] % n_items


def overlap_ndcg(student_top, teacher_top, temperature=10.0):
    """The authors' NDCG of a student list against a checkpoint's list: student_top, teacher_top
    [U, k] -> [U] in [0, 1]. Gain 2^{exp(-t/T)} - 1 at student position t (0-based) when that item is
    in the teacher's list, discount 1 / log2(t + 2), divided by the sum over all k positions."""
    k = student_top.shape[1]
    ordered = teacher_top.sort(1).values
    at = torch.searchsorted(ordered, student_top.contiguous()).clamp(max=ordered.shape[1] - 1)
    hit = ordered.gather(1, at) == student_top                              # [U, k]
    t = torch.arange(k, device=student_top.device, dtype=torch.float64)
    gains = (torch.pow(2.0, torch.exp(-t / temperature)) - 1) / torch.log2(t + 2)
    return (hit.double() * gains).sum(1) / gains.sum()


class CheckpointSchedule:
    """Which checkpoint each (teacher, user) learns from, and the authors' advance rule (module doc).

    lengths: N_t per teacher; distance(t, v [U]) -> [U] the distance of every user to checkpoint
    v[u] of teacher t (1 - overlap_ndcg)."""

    def __init__(self, lengths, n_users, alpha=1.05, decay=0.995, every=10, device=None):
        self.lengths = torch.as_tensor(lengths, device=device).view(-1, 1)
        self.current = torch.zeros((len(lengths), n_users), dtype=torch.int64, device=device)
        self.alpha, self.decay, self.every = alpha, decay, every
        self.last_distance = None

    @property
    def at_last(self):
        """True when every teacher is at its last checkpoint for every user (HetComp's second stage)."""
        return bool((self.current == self.lengths - 1).all())

    def update(self, epoch, distance):
        """One check after epoch ``epoch`` -> the number of (teacher, user) pairs that advanced."""
        following = torch.minimum(self.current + 1, self.lengths - 1)
        if self.last_distance is None:
            self.last_distance = torch.stack([distance(t, following[t]) for t in range(len(self.current))])
            return 0
        threshold = self.alpha * self.decay ** (epoch // self.every)
        moved = 0
        for t in range(len(self.current)):                                    # teachers, not users
            ratio = self.last_distance[t] / distance(t, following[t])
            move = (self.current[t] < self.lengths[t] - 1) & ((ratio > threshold) | (ratio < 1))
            self.current[t] += move.long()
            after = distance(t, torch.minimum(self.current[t] + 1, self.lengths[t] - 1))
            self.last_distance[t] = torch.where(move, after, self.last_distance[t])
            moved += int(move.sum())
        return moved


class HetComp(Method):
    """The HetComp student term (module doc); the student trains on it alone (``base_loss = False``, the
    release's) or, with ``base_loss=True``, beside its own loss (BPR), as the KDs toolkit trains it.

    trajectories: one [N_t, U, L] int tensor per teacher (its checkpoints' lists, in training order);
    observed: [U, P] each user's observed items in the teachers' order, -1 where a user has fewer;
    student: the model being trained (its top ``ndcg_K`` items drive the advance rule)."""
    name = "HetComp"
    base_loss = False
    # each (teacher, user)'s checkpoint, the distances of the advance rule, the ensemble and the stage
    carried = ("schedule.current", "schedule.last_distance", "top", "final")

    def __init__(self, trajectories, observed, split, student, lmbda=0.01, lmbda_final=0.005, K=100,
                 final_top=50, final_sub=10, every=10, alpha=1.05, decay=0.995, ndcg_K=50, ensemble_T=10.0,
                 ndcg_T=10.0, base_loss=False):
        device = observed.device
        if not final_sub <= final_top <= K:
            raise ValueError(f"HetComp needs final_sub ({final_sub}) <= final_top ({final_top}) <= K ({K})")
        self.trajectories, self.observed, self.student = trajectories, observed, student
        self.base_loss = base_loss
        self.lmbda, self.lmbda_final, self.K = lmbda, lmbda_final, K
        self.final_top, self.final_sub, self.every = final_top, final_sub, every
        self.ndcg_K, self.ensemble_T, self.ndcg_T = ndcg_K, ensemble_T, ndcg_T
        self.n_users, self.n_items = split.n_users, split.n_items
        self.train_ptr, self.train_items = build_csr(split.train_users, split.train_items, split.n_users, device)
        self.schedule = CheckpointSchedule([len(t) for t in trajectories], split.n_users, alpha, decay, every,
                                           device)
        self.final = self.schedule.at_last
        self.top = self.current_ensemble()
        self.epoch = 0

    def current_lists(self, t):
        """Teacher t's list of every user at the user's current checkpoint -> [U, L]."""
        users = torch.arange(self.n_users, device=self.observed.device)
        return self.trajectories[t][self.schedule.current[t], users]

    def current_ensemble(self):
        lists = torch.stack([self.current_lists(t) for t in range(len(self.trajectories))])
        return ensemble_top(lists, self.K, self.ensemble_T, self.n_items)

    def start_epoch(self, epoch):
        self.epoch = epoch
        return {}

    def end_epoch(self):
        """The advance check every ``every`` epochs (from epoch ``every`` on, until all are at the end)."""
        logged = {"stage": 2 if self.final else 1}
        if self.final or self.epoch < self.every or self.epoch % self.every:
            return logged
        with torch.no_grad():
            student_top = top_unobserved_by(self.student.score_all, self.n_users, self.train_ptr, self.train_items,
                                            self.ndcg_K, self.observed.device)
        users = torch.arange(self.n_users, device=self.observed.device)

        def distance(t, v):
            return 1 - overlap_ndcg(student_top, self.trajectories[t][v, users, :self.ndcg_K], self.ndcg_T)

        logged["advanced"] = self.schedule.update(self.epoch, distance)
        self.top = self.current_ensemble()
        self.final = self.schedule.at_last
        for t, current in enumerate(self.schedule.current):               # mean checkpoint index per teacher
            logged[f"checkpoint_{t}"] = float(current.double().mean())
        return logged

    def loss(self, batch):
        users = torch.unique(batch.users)
        user_rows = batch.user_rows(users)                                  # dot-product students only
        items = batch.item_table()
        top = self.top[users]                                               # [n, K]
        observed = self.observed[users]                                     # [n, P]
        present = observed >= 0
        a = pair_scores(user_rows, items, top)
        b = pair_scores(user_rows, items, observed.clamp(min=0))
        rows, cols = excluded_pairs(self.train_ptr, self.train_items, users, top)
        log_rest = MaskedLogSumExp.apply(user_rows, items, rows, cols)      # [n] log rest_K
        if not self.final:
            listed = F.softplus(log_rest.unsqueeze(1) - a).sum(1)
            positives = (F.softplus(log_rest.unsqueeze(1) - b) * present).sum(1)
            return {"HetComp": self.lmbda * (listed + positives).sum()}
        rest_top = torch.logsumexp(torch.cat([log_rest.unsqueeze(1), a[:, self.final_top:]], 1), 1)
        rest_sub = torch.logsumexp(torch.cat([log_rest.unsqueeze(1), a[:, self.final_sub:]], 1), 1)
        loss = (relaxed_ranking_loss(b, rest_top, present)
                + 0.5 * (relaxed_ranking_loss(a[:, :self.final_top], rest_top)
                         + relaxed_ranking_loss(a[:, :self.final_sub], rest_sub)))
        return {"HetComp": self.lmbda_final * loss.sum()}

    def describe(self):
        return [f"HetComp: {len(self.trajectories)} teachers, checkpoints {[len(t) for t in self.trajectories]}, "
                f"K {self.K}, observed per user {self.observed.shape[1]}, lambda {self.lmbda} / {self.lmbda_final}"
                + (", beside the student's own loss" if self.base_loss else "")]
