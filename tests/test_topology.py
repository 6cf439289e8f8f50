"""Topology Distillation: FTD's loss against the definition (a loop over entity pairs), values and gradients."""
import math

import pytest
import torch

from Models.TD import cosine_matrix, ftd_loss, grouped_topology_loss, prototype_loss


def test_cosine_matrix_against_a_loop():
    x = torch.randn(5, 3, dtype=torch.float64)
    c = cosine_matrix(x)
    for a in range(5):
        for b in range(5):
            expected = float(x[a] @ x[b]) / math.sqrt(float(x[a] @ x[a]) * float(x[b] @ x[b]))
            assert c[a, b].item() == pytest.approx(expected)


def test_ftd_loss_values_and_gradients_against_the_definition():
    torch.manual_seed(0)
    teacher = torch.randn(40, 16, dtype=torch.float64)
    student = torch.randn(40, 4, dtype=torch.float64, requires_grad=True)
    reference = student.detach().clone().requires_grad_()
    loss = ftd_loss(teacher, student)
    expected = 0.0
    c_t, c_s = cosine_matrix(teacher), cosine_matrix(reference)
    for a in range(40):
        for b in range(40):
            expected = expected + (c_t[a, b] - c_s[a, b]) ** 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-9)
    loss.backward()
    expected.backward()
    assert torch.allclose(student.grad, reference.grad, rtol=1e-8, atol=1e-10)
    assert ftd_loss(teacher, teacher[:, :16]).item() == pytest.approx(0.0, abs=1e-9)   # same topology: zero


def test_grouped_topology_loss_against_pairs_within_groups():
    torch.manual_seed(1)
    teacher, groups = torch.randn(30, 8, dtype=torch.float64), torch.randint(0, 4, (30,))
    student = torch.randn(30, 3, dtype=torch.float64, requires_grad=True)
    reference = student.detach().clone().requires_grad_()
    loss = grouped_topology_loss(teacher, student, groups)
    c_t, c_s = cosine_matrix(teacher), cosine_matrix(reference)
    expected = sum((c_t[a, b] - c_s[a, b]) ** 2 for a in range(30) for b in range(30) if groups[a] == groups[b])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-9)
    loss.backward()
    expected.backward()
    assert torch.allclose(student.grad, reference.grad, rtol=1e-8, atol=1e-10)


def test_prototype_loss_against_a_loop():
    torch.manual_seed(2)
    teacher, student, groups = torch.randn(12, 6), torch.randn(12, 2), torch.tensor([0, 3, 3, 0, 5, 5, 5, 0, 3, 3, 0, 5])
    expected = 0.0
    for g in (0, 3, 5):
        members = groups == g
        p_t, p_s = teacher[members].mean(0), student[members].mean(0)
        for a in range(12):
            expected += (torch.cosine_similarity(teacher[a], p_t, dim=0)
                         - torch.cosine_similarity(student[a], p_s, dim=0)).item() ** 2
    assert prototype_loss(teacher, student, groups).item() == pytest.approx(expected, rel=1e-5)


def test_htd_groups_are_des_selection_under_the_same_noise(monkeypatch):
    import Models.TD as td
    from Models.BPR import BPR
    from Models.DE import DE
    from Utils.tensors.sampling import gumbel_like
    torch.manual_seed(3)
    teacher = BPR(10, 20, 8).requires_grad_(False)
    de = DE(teacher, 4, torch.Generator().manual_seed(5), num_experts=3)
    htd = td.HTD(teacher, de)
    htd.start_epoch(0)
    t, s = teacher.user_emb[:10].detach() * 100, torch.randn(10, 4)
    seen = []

    def recording(teacher_repr, student_repr, groups):
        seen.append(groups)
        return grouped_topology_loss(teacher_repr, student_repr, groups)

    monkeypatch.setattr(td, "grouped_topology_loss", recording)
    htd.side(de.user_de, t, s)
    noise = gumbel_like(t.new_empty(10, 3), torch.Generator().manual_seed(5))     # the same draw
    assert torch.equal(seen[0], de.user_de.weights(t, de.tau, noise).argmax(1))
