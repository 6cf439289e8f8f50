"""Dual Correction Distillation (DCD), Lee & Kim, CIKM'21: ranking distillation that concentrates on
the teacher's items the student currently ranks too low or too high (docs/methods.md, DCD).

Teacher lists: per user its top unobserved items (and per item its top users), position p_T in
teacher order. Every ``refresh`` epochs the student re-ranks each list within itself, giving each
entry its student position p_S (0-based), and
    under-estimation weight  w+ = tanh(max(0, eps (p_S - p_T)))      (the student ranks it lower)
    over-estimation weight   w- = tanh(max(0, eps (p_T - p_S)))      (the student ranks it higher)
each plus a small floor, so a list with few positive weights can still be sampled. Per batch and
side, p_n positions are drawn without replacement with probability ~ w+ and sorted back into teacher
order (the under-estimated list, the interesting items of the relaxed ranking loss), and p_n with
probability ~ w- (the over-estimated items, the uninteresting ones):
    UCD = SUM_{unique batch users} l(u),   ICD = SUM_{unique positive items} l(i)   (l: RRD's loss)
    L = L_base + lambda_U UCD + lambda_I ICD.
The item side needs a dot-product student (it scores users against items).
"""
import torch

from Models.method import Method
from Models.RRD import relaxed_ranking_loss

RERANK_CHUNK = 1024      # rows of the lists re-scored at a time


def correction_weights(student_scores, eps, floor):
    """student_scores [n, W] of each list's entries in teacher order -> (w+ [n, W], w- [n, W]).

    p_T = column index; p_S = the entry's 0-based position when the row is sorted by the student."""
    order = torch.argsort(student_scores, dim=1, descending=True, stable=True)
    p_s = torch.empty_like(order)
    positions = torch.arange(student_scores.shape[1], device=order.device).expand_as(order)
    p_s.scatter_(1, order, positions)
    gap = (p_s - positions).to(student_scores.dtype)
    return torch.tanh((eps * gap).clamp_min(0)) + floor, torch.tanh((-eps * gap).clamp_min(0)) + floor


def draw_positions(weights, k, generator, keep_order):
    """k distinct columns per row, drawn one after another without replacement with probability ~
    weights [n, W] (positive), sorted ascending (teacher order) when ``keep_order``, else in no
    particular order. -> [n, k] int64.

    The k largest keys log(U) / w, U ~ Uniform(0, 1) (Efraimidis & Spirakis): the same distribution as
    Gumbel top-k on log w (log(U) / w = -E / w with E ~ Exp(1), ordered as log w - log E), one log
    instead of three."""
    u = torch.rand(weights.shape, generator=generator, device=weights.device, dtype=weights.dtype)
    keys = u.log_().div_(weights)
    positions = torch.topk(keys, k, dim=1, sorted=False).indices
    return positions.sort(dim=1).values if keep_order else positions


class CorrectionSide:
    """The lists of one side (users' items or items' users) with their current correction weights."""

    def __init__(self, lists, eps, floor):
        self.lists, self.eps, self.floor = lists, eps, floor
        self.w_under = self.w_over = None

    @torch.no_grad()
    def rerank(self, score_rows):
        """score_rows(rows [c], columns [c, W]) -> the student's scores [c, W]."""
        under, over = [], []
        for start in range(0, len(self.lists), RERANK_CHUNK):
            rows = torch.arange(start, min(start + RERANK_CHUNK, len(self.lists)), device=self.lists.device)
            w_plus, w_minus = correction_weights(score_rows(rows, self.lists[rows]), self.eps, self.floor)
            under.append(w_plus)
            over.append(w_minus)
        self.w_under, self.w_over = torch.cat(under), torch.cat(over)

    def draw(self, rows, p_n, generator):
        """-> (under-estimated columns in teacher order [n, p_n], over-estimated columns [n, p_n])."""
        lists = self.lists[rows]
        under = draw_positions(self.w_under[rows], p_n, generator, keep_order=True)
        over = draw_positions(self.w_over[rows], p_n, generator, keep_order=False)
        return torch.gather(lists, 1, under), torch.gather(lists, 1, over)


def correction_loss(scores, p_n):
    """scores [n, 2 p_n]: the under-estimated list (teacher order) then the over-estimated items -> [n]."""
    return relaxed_ranking_loss(scores[:, :p_n], torch.logsumexp(scores[:, p_n:], dim=1))


class DCD(Method):
    name = "DCD"
    # the correction weights of the last re-ranking, used until the next one (every ``refresh`` epochs)
    carried = ("users.w_under", "users.w_over", "items.w_under", "items.w_over")

    def __init__(self, user_lists, item_lists, generator, lmbda_U=0.01, lmbda_I=0.01, eps=0.1, p_n=100,
                 refresh=3, floor=1e-3):
        self.users = CorrectionSide(user_lists, eps, floor)
        self.items = CorrectionSide(item_lists, eps, floor) if item_lists is not None and lmbda_I else None
        self.generator, self.lmbda_U, self.lmbda_I, self.p_n, self.refresh = generator, lmbda_U, lmbda_I, p_n, refresh
        self.rerank_pending = False

    def start_epoch(self, epoch):
        self.rerank_pending = epoch % self.refresh == 0    # done at the first batch, with the student as it is
        return {}

    @torch.no_grad()
    def _rerank(self, student):
        self.users.rerank(student.score)
        if self.items is not None:
            all_users = torch.arange(student.n_users, device=self.items.lists.device)
            user_repr = student.user_repr(all_users)
            self.items.rerank(lambda rows, users: (student.item_repr(rows).unsqueeze(1) * user_repr[users]).sum(-1))
        self.rerank_pending = False

    def loss(self, batch):
        if self.rerank_pending:
            self._rerank(batch.student)
        users = torch.unique(batch.users)
        under, over = self.users.draw(users, self.p_n, self.generator)
        terms = {"UCD": self.lmbda_U * correction_loss(batch.scores(users, torch.cat([under, over], 1)), self.p_n).sum()}
        if self.items is not None:
            items = torch.unique(batch.pos)
            under, over = self.items.draw(items, self.p_n, self.generator)
            scores = batch.user_scores(batch.item_rows(items), torch.cat([under, over], 1))
            terms["ICD"] = self.lmbda_I * correction_loss(scores, self.p_n).sum()
        return terms

    def describe(self):
        side = "users and items" if self.items is not None else "users"
        return [f"DCD:: {side}, p_n {self.p_n}, eps {self.users.eps:g}, re-ranked every {self.refresh} epochs, "
                f"floor {self.users.floor:g}, lambda_U {self.lmbda_U:g}, lambda_I {self.lmbda_I:g}"]
