"""Collaborative Distillation (CD), Lee et al., ICDM'19: the student fits the teacher's soft labels
on a few unobserved items per user, drawn from a guide's ranking with a rank-aware probability.

Per user u, n_d unobserved items j are drawn without replacement from the guide's top N with
p(r) proportional to exp(-r / (N T)) (r = 1..N their position). The guide is the teacher
(teacher-guided) or the current student, its list recomputed every epoch (student-guided).
  soft label  y_uj = sigmoid(t(u, j) / soft_T)                       (t: the teacher's score)
  L_CD(u)     = SUM_j BCE(sigmoid(s(u, j)), y_uj)
summed over the unique users of a batch: L = L_base + lambda_CD SUM_u L_CD(u). The draws are made
once per epoch for every user.
"""
import torch
import torch.nn.functional as F

from Models.method import Method
from Models.RRD import sample_positions
from Utils.tensors.csr import build_csr
from Utils.tensors.top_unobserved import top_unobserved_by


def cd_loss(student_scores, teacher_scores, soft_T):
    """SUM BCE(sigmoid(s), sigmoid(t / soft_T)): scores [n, n_d] each -> scalar (labels carry no gradient)."""
    labels = torch.sigmoid(teacher_scores.detach() / soft_T)
    return F.binary_cross_entropy_with_logits(student_scores, labels, reduction="sum")


class CD(Method):
    """teacher: the frozen teacher (its scores are the soft labels); teacher_lists [n_users, N]: its
    top-N unobserved items, used as the guide when ``guide == 'teacher'``."""
    name = "CD"

    def __init__(self, teacher, teacher_lists, split, generator, lmbda=0.5, n_d=2, T=20.0, soft_T=2.0,
                 guide="student"):
        self.teacher, self.lists, self.generator = teacher, teacher_lists, generator
        self.lmbda, self.n_d, self.soft_T, self.guide = lmbda, n_d, soft_T, guide
        self.N = teacher_lists.shape[1]
        self.temperature = self.N * T                        # p(r) ~ exp(-r / (N T))
        device = teacher_lists.device
        self.train_ptr, self.train_items = build_csr(split.train_users, split.train_items, split.n_users, device)
        self.drawn = None
        self.name = "CD" if guide == "student" else "CD-teacher"

    def start_epoch(self, epoch):
        self.drawn = None          # drawn at the first batch (student-guided: from the student as it is then)
        return {}

    def _draw(self, student):
        lists = self.lists
        if self.guide == "student":
            with torch.no_grad():
                lists = top_unobserved_by(student.score_all, len(lists), self.train_ptr, self.train_items,
                                          self.N, lists.device)
        positions = sample_positions(len(lists), self.n_d, self.N, self.temperature, self.generator)
        return torch.gather(lists, 1, positions)                                 # [n_users, n_d]

    def loss(self, batch):
        if self.drawn is None:
            self.drawn = self._draw(batch.student)
        users = torch.unique(batch.users)
        items = self.drawn[users]                                                # [n, n_d]
        student_scores = batch.scores(users, items)
        with torch.no_grad():
            teacher_scores = self.teacher.score(users, items)
        return {"CD": self.lmbda * cd_loss(student_scores, teacher_scores, self.soft_T)}

    def describe(self):
        return [f"CD:: {self.guide}-guided, top {self.N}, {self.n_d} items per user, "
                f"p(r) ~ exp(-r / {self.temperature:g}), soft labels sigmoid(t / {self.soft_T:g}), "
                f"lambda {self.lmbda:g}"]
