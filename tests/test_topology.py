"""Topology Distillation: FTD's loss against the definition (a loop over entity pairs), values and gradients."""
import math

import pytest
import torch

from Models.TD import cosine_matrix, ftd_loss


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
