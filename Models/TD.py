"""Topology Distillation (Kang et al., KDD'21), the follow-up of DE: the student learns the similarity
structure among the batch's entities instead of each teacher embedding (docs/methods.md, TD).

FTD (full topology): the batch's entities E, its unique users and its unique positive and negative
items, stacked, with teacher and student representations; their cosine-similarity matrices
C_T, C_S [|E|, |E|] and
    L_FTD = SUM_{a, b in E} (C_T(a, b) - C_S(a, b))^2,      L = L_base + lambda_TD L_FTD (1e-3).
The teacher's matrix carries no gradient. With U_T, U_S the row-normalised representations
(C = U U^T), the sum expands into Gram matrices of the representation dimensions,
    L_FTD = ||U_T^T U_T||_F^2 - 2 ||U_T^T U_S||_F^2 + ||U_S^T U_S||_F^2,
computed in float64: |E| d^2 work instead of |E|^2 d, and no [|E|, |E|] matrix at all (|E| is a few
thousand per batch). Tested against the definition, values and gradients.
"""
import torch
import torch.nn.functional as F

from Models.method import Method


def cosine_matrix(x):
    """x [n, d] -> cosine similarities [n, n] (a zero row has similarity 0 with everything)."""
    unit = F.normalize(x, dim=1)
    return unit @ unit.T


def ftd_loss(teacher_repr, student_repr):
    """SUM_{a,b} (cos_T(a, b) - cos_S(a, b))^2: teacher_repr [n, d_t], student_repr [n, d_s] -> scalar,
    through the Gram-matrix expansion of the module docstring."""
    with torch.no_grad():
        u_t = F.normalize(teacher_repr, dim=1).double()
        teacher_term = (u_t.T @ u_t).pow(2).sum()
    u_s = F.normalize(student_repr, dim=1).double()
    loss = teacher_term - 2 * (u_t.T @ u_s).pow(2).sum() + (u_s.T @ u_s).pow(2).sum()
    return loss.to(student_repr.dtype)


class FTD(Method):
    name = "FTD"

    def __init__(self, teacher, lmbda=1e-3):
        self.teacher, self.lmbda = teacher, lmbda

    def loss(self, batch):
        users = torch.unique(batch.users)
        items = torch.unique(torch.cat([batch.pos, batch.neg]))
        with torch.no_grad():
            teacher = torch.cat([self.teacher.user_repr(users), self.teacher.item_repr(items)])
        student = torch.cat([batch.user_repr(users), batch.item_repr(items)])
        return {"FTD": self.lmbda * ftd_loss(teacher, student)}

    def describe(self):
        return [f"FTD:: cosine topology of the batch's unique users and items, lambda {self.lmbda:g}"]
