"""RCE-KD, "Rejuvenating Cross-Entropy Loss in Knowledge Distillation for Recommender Systems" (Zhu and
Zhang, 2025; official code github BDML-lab/RCE-KD, the KDs toolkit's ``mkd``): cross-entropy between the
teacher's and the student's softmax over item subsets, chosen so that the subset's closure assumption (it
holds the student's top items) behind the CE-NDCG bound holds (docs/methods.md, RCE-KD).

Once: T_u, the teacher's top K items of user u (over all items, as the release). Each epoch, from the
student as it is at the epoch's first batch: S_u, its top mxK items; the student's top K, S_u[:K]; and
L "interesting" positions of S_u drawn without replacement with weight exp((min(c_m, 50) + 1) / T), c_m the
number of T_u's items at positions m.. of S_u (teacher-student collaborative sampling: positions with much
of the teacher's top below them), I_u = S_u at those positions. Per triple of the batch (user u):

    L_S = CE(softmax(t / tau) || softmax(s / tau)) over S_u[:K]
    L_T = CE(softmax(t / tau) || softmax(s / tau)) over A_u = I_u + (T_u minus I_u and S_u[:K])
    w_u = exp(-beta |T_u ∩ I_u| / K)
    L_RCE = lambda SUM_{triples} (1 - w_u) L_S + w_u L_T

(t, s: teacher and student scores). ``sampling='rank'`` is the release's ablation: positions drawn with
weight exp(-(m + 1) / T) instead.
"""
import torch
import torch.nn.functional as F

from Models.method import Method
from Utils.tensors.sampling import gumbel_like
from Utils.tensors.top_unobserved import top_unobserved_by

SUFFIX_CAP = 50.0         # the release's cap on the count of teacher items below a position
CHUNK = 1024              # users per chunk of the teacher's scores


def top_items(score_rows, n_rows, k, device):
    """Each row's k highest-scoring columns over all columns (nothing masked, as the release) [n_rows, k]."""
    nothing = torch.zeros(n_rows + 1, dtype=torch.int64, device=device)
    return top_unobserved_by(score_rows, n_rows, nothing, torch.zeros(0, dtype=torch.int64, device=device), k, device)


def rowwise_isin(values, pool):
    """values [n, a], pool [n, b] -> bool [n, a]: values[r, i] in pool[r] (sorted-search, no [n, a, b] tensor)."""
    ordered = pool.sort(1).values
    at = torch.searchsorted(ordered, values).clamp_max(pool.shape[1] - 1)
    return torch.gather(ordered, 1, at) == values


def collaborative_weights(student_top, teacher_top, T):
    """exp((min(c_m, 50) + 1) / T), c_m = how many of the teacher's top items sit at positions m.. of the
    student's list: student_top [n, mxK], teacher_top [n, K] -> [n, mxK]."""
    hit = rowwise_isin(student_top, teacher_top).float()
    below = hit.flip(1).cumsum(1).flip(1)
    return torch.exp((torch.clamp(below, max=SUFFIX_CAP) + 1) / T)


def draw_without_replacement(weights, k, generator):
    """k distinct columns per row drawn successively with probability proportional to ``weights`` [n, m]
    (Gumbel top-k: the distribution of torch.multinomial without replacement) -> [n, k]."""
    return torch.topk(torch.log(weights) + gumbel_like(weights, generator), k, dim=1).indices


def soft_cross_entropy(teacher_logits, student_logits, keep=None):
    """-SUM_i p_i log q_i, p = softmax(teacher), q = softmax(student) over the entries ``keep`` [n, m]
    (all when None): [n, m] each -> [n]."""
    if keep is not None:
        teacher_logits = teacher_logits.masked_fill(~keep, -torch.inf)
        student_logits = student_logits.masked_fill(~keep, -torch.inf)
    p = torch.softmax(teacher_logits, 1)
    log_q = torch.log_softmax(student_logits, 1)
    return -torch.where(p > 0, p * log_q, torch.zeros((), dtype=log_q.dtype, device=log_q.device)).sum(1)


def rcekd_loss(t_S, s_S, t_A, s_A, keep_A, overlap, beta):
    """SUM_b (1 - w_b) CE over the student's top + w_b CE over A_b, w_b = exp(-beta overlap_b):
    t_S, s_S [n, K]; t_A, s_A, keep_A [n, L + K]; overlap [n] -> scalar."""
    weight = torch.exp(-beta * overlap)
    return ((1 - weight) * soft_cross_entropy(t_S, s_S) + weight * soft_cross_entropy(t_A, s_A, keep_A)).sum()


class RCEKD(Method):
    """teacher: the frozen teacher; split: the sizes of the data."""
    name = "RCE-KD"

    def __init__(self, teacher, split, generator, lmbda=500.0, tau=1.0, K=50, L=50, T=10.0, mxK=200, beta=3.0,
                 sampling="collaborative"):
        self.teacher, self.generator = teacher, generator
        self.lmbda, self.tau, self.K, self.L, self.T, self.mxK, self.beta = lmbda, tau, K, L, T, mxK, beta
        self.sampling, self.n_users = sampling, split.n_users
        device = generator.device
        with torch.no_grad():
            self.teacher_top = top_items(teacher.score_all, split.n_users, K, device)       # [n_users, K]
        self.drawn = None

    def start_epoch(self, epoch):
        self.drawn = None          # drawn at the first batch, from the student as it is then
        return {}

    def _draw(self, student):
        device = self.teacher_top.device
        with torch.no_grad():
            student_top = top_items(student.score_all, self.n_users, self.mxK, device)       # [n_users, mxK]
        if self.sampling == "rank":
            positions = torch.arange(1, self.mxK + 1, device=device, dtype=torch.float32)
            weights = torch.exp(-positions / self.T).expand(self.n_users, -1).contiguous()
        else:
            weights = collaborative_weights(student_top, self.teacher_top, self.T)
        interesting = torch.gather(student_top, 1, draw_without_replacement(weights, self.L, self.generator))
        student_k = student_top[:, :self.K]
        in_interesting = rowwise_isin(self.teacher_top, interesting)                          # [n_users, K]
        keep_teacher = ~in_interesting & ~rowwise_isin(self.teacher_top, student_k)
        subset = torch.cat([interesting, self.teacher_top], 1)                                 # [n_users, L + K]
        keep = torch.cat([torch.ones_like(interesting, dtype=torch.bool), keep_teacher], 1)
        items = torch.cat([student_k, subset], 1)                                              # [n_users, K + L + K]
        with torch.no_grad():        # the teacher's scores of the epoch's items, once per user (not per triple)
            teacher_scores = torch.cat([self.teacher.score(rows, items[rows]) for rows in
                                        torch.arange(self.n_users, device=device).split(CHUNK)]) / self.tau
        return items, teacher_scores, keep, in_interesting.float().mean(1)

    def loss(self, batch):
        if self.drawn is None:
            self.drawn = self._draw(batch.student)
        items, teacher_scores, keep, overlap = self.drawn
        users = batch.users
        s = batch.scores(users, items[users]) / self.tau                                       # [B, K + L + K]
        t = teacher_scores[users]
        k = self.K
        loss = rcekd_loss(t[:, :k], s[:, :k], t[:, k:], s[:, k:], keep[users], overlap[users], self.beta)
        return {"RCE-KD": self.lmbda * loss}

    def describe(self):
        return [f"RCE-KD:: CE over the student's top {self.K} and over {self.L} {self.sampling}-sampled items of its "
                f"top {self.mxK} plus the rest of the teacher's top {self.K}, tau {self.tau:g}, T {self.T:g}, beta "
                f"{self.beta:g}, lambda {self.lmbda:g}"]
