"""Topology Distillation (Kang et al., KDD'21), the follow-up of DE: the student learns the similarity
structure among the batch's entities instead of each teacher embedding (docs/methods.md, TD).

FTD (full topology): the batch's entities E, its unique users and its unique positive and negative
items, stacked, with teacher and student representations; their cosine-similarity matrices
C_T, C_S [|E|, |E|] and
    L_FTD = SUM_{a, b in E} (C_T(a, b) - C_S(a, b))^2,      L = L_base + lambda_TD L_FTD (1e-3).
HTD (hierarchical topology), as the authors' release computes it (its ``choice='second'``): a DE module
(the same ``DE`` as ``main_DE.py``: experts and a selection net on the teacher representation) assigns
each entity to the group of its largest noiseless selection probability, argmax softmax(v(t_a)), users'
groups and items' groups apart (items' ids offset by the number of experts). With E the batch's unique
users and items together and prototypes P_g = the mean representation of group g's members in E
(no gradient through them):
    entity level  SUM_{a, b in one group, cos_T(a, b) > 0} (cos_T(a, b) - cos_S(a, b))^2
    group level   SUM_{g present} SUM_{a in E} (cos(t_a, P^T_g) - cos(s_a, P^S_g))^2   (every group, both sides)
    L_HTD = alpha (entity + group) + (1 - alpha) (l_DE(users) + l_DE(items)),   alpha = 0.5
    L = L_base + lambda_TD L_HTD (1e-3);
the reconstruction l_DE draws its Gumbel noise with the release's temperature, annealed over its own 100
epochs: T = 1 at epoch 0, then max(1e-10^((epoch - 1) / 100), 1e-10) (``--HTD_anneal_epochs``).
The teacher's matrix carries no gradient. With U_T, U_S the row-normalised representations
(C = U U^T), the sum expands into Gram matrices of the representation dimensions,
    L_FTD = ||U_T^T U_T||_F^2 - 2 ||U_T^T U_S||_F^2 + ||U_S^T U_S||_F^2,
computed in float64: |E| d^2 work instead of |E|^2 d, and no [|E|, |E|] matrix at all (|E| is a few
thousand per batch). Tested against the definition, values and gradients.
"""
import torch
import torch.nn.functional as F

from Models.DE import DE
from Models.method import Method
from Utils.tensors.sampling import gumbel_like


def cosine_matrix(x):
    """x [n, d] -> cosine similarities [n, n] (a zero row has similarity 0 with everything)."""
    unit = F.normalize(x, dim=1)
    return unit @ unit.T


def _gram_topology(u_t, u_s):
    """SUM_{a,b} (<u_t_a, u_t_b> - <u_s_a, u_s_b>)^2 for row-normalised u_t [n, d_t] (no gradient),
    u_s [n, d_s], as ||U_T^T U_T||^2 - 2 ||U_T^T U_S||^2 + ||U_S^T U_S||^2."""
    with torch.no_grad():
        teacher_term = (u_t.T @ u_t).pow(2).sum()
    return teacher_term - 2 * (u_t.T @ u_s).pow(2).sum() + (u_s.T @ u_s).pow(2).sum()


def _unit64(x):
    return F.normalize(x, dim=1).double()


def ftd_loss(teacher_repr, student_repr):
    """SUM_{a,b} (cos_T(a, b) - cos_S(a, b))^2: teacher_repr [n, d_t], student_repr [n, d_s] -> scalar,
    through the Gram-matrix expansion of the module docstring."""
    return _gram_topology(_unit64(teacher_repr.detach()), _unit64(student_repr)).to(student_repr.dtype)


def grouped_topology_loss(teacher_repr, student_repr, groups):
    """The entity level of HTD: SUM over the pairs (a, b) of one group whose teacher cosine is positive
    of (cos_T(a, b) - cos_S(a, b))^2, as the release masks them. groups [n] int64; one [n_g, n_g] cosine
    matrix per group present (a group is a few hundred entities of a batch)."""
    order = torch.argsort(groups, stable=True)
    counts = torch.bincount(groups[order]).tolist()
    total = student_repr.new_zeros((), dtype=torch.float64)
    for t, s in zip(teacher_repr.detach()[order].split(counts), student_repr[order].split(counts)):
        if len(t):
            with torch.no_grad():
                c_t = cosine_matrix(t.double())
            c_s = cosine_matrix(s.double())
            total = total + ((c_t - c_s).pow(2) * (c_t > 0)).sum()
    return total.to(student_repr.dtype)


def prototype_loss(teacher_repr, student_repr, groups):
    """The group level of HTD: SUM_{a, g} (cos(t_a, P^T_g) - cos(s_a, P^S_g))^2 over the groups present,
    P_g the group's mean representation (detached)."""
    present, index = torch.unique(groups, return_inverse=True)
    counts = torch.bincount(index, minlength=len(present)).unsqueeze(1)

    def prototypes(x):
        return x.new_zeros(len(present), x.shape[1]).index_add_(0, index, x) / counts

    with torch.no_grad():
        target = F.normalize(teacher_repr, dim=1) @ F.normalize(prototypes(teacher_repr), dim=1).T
    student = F.normalize(student_repr, dim=1) @ F.normalize(prototypes(student_repr.detach()), dim=1).T
    return (target - student).pow(2).sum()


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


class HTD(Method):
    """Hierarchical Topology Distillation; ``de`` is a DE module (its experts, selection nets and
    temperature schedule, annealed over the release's 100 epochs by the builder) for the groups and the
    reconstruction."""
    name = "HTD"
    carried = ("de.user_de", "de.item_de")

    def __init__(self, teacher, de: DE, lmbda=1e-3, alpha=0.5):
        self.teacher, self.de, self.lmbda, self.alpha = teacher, de, lmbda, alpha

    def parameters(self):
        return self.de.parameters()

    def start_epoch(self, epoch):
        return self.de.start_epoch(epoch)

    def end_epoch(self):
        return self.de.end_epoch()

    @staticmethod
    @torch.no_grad()
    def groups(module, teacher_repr):
        """argmax of the noiseless selection probabilities softmax(v(t)): teacher_repr [n, d_t] -> [n] int64."""
        return module.selector(teacher_repr).argmax(1)

    def reconstruction(self, module, teacher_repr, student_repr):
        """DE's reconstruction loss of one side, Gumbel selection at the current temperature."""
        noise = gumbel_like(teacher_repr.new_empty(len(teacher_repr), module.experts.num_experts), self.de.generator)
        return module.loss(student_repr, teacher_repr, self.de.tau, noise)

    def loss(self, batch):
        users = torch.unique(batch.users)
        items = torch.unique(torch.cat([batch.pos, batch.neg]))
        with torch.no_grad():
            t_users, t_items = self.teacher.user_repr(users), self.teacher.item_repr(items)
        s_users, s_items = batch.user_repr(users), batch.item_repr(items)
        reconstruction = self.reconstruction(self.de.user_de, t_users, s_users) + \
            self.reconstruction(self.de.item_de, t_items, s_items)
        k = self.de.user_de.experts.num_experts
        groups = torch.cat([self.groups(self.de.user_de, t_users), self.groups(self.de.item_de, t_items) + k])
        teacher, student = torch.cat([t_users, t_items]), torch.cat([s_users, s_items])
        topology = grouped_topology_loss(teacher, student, groups) + prototype_loss(teacher, student, groups)
        return {"HTD": self.lmbda * (self.alpha * topology + (1 - self.alpha) * reconstruction)}

    def describe(self):
        return [f"HTD:: groups from a DE module ({self.de.user_de.experts.num_experts} experts per side, noiseless "
                f"argmax), entity level over positive teacher cosines, group level over both sides' prototypes, "
                f"alpha {self.alpha:g}, lambda {self.lmbda:g}, temperature annealed over {self.de.max_epoch} "
                f"epochs"] + self.de.describe()
