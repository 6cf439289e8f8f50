"""DCD: correction weights against a loop reference, draws sorted back into teacher order and
following the weights, the floor."""
import math

import numpy as np
import pytest
import torch

from Models.DCD import CorrectionSide, correction_weights, draw_positions


def test_correction_weights_against_a_loop():
    torch.manual_seed(0)
    scores = torch.randn(4, 7)
    w_plus, w_minus = correction_weights(scores, eps=0.3, floor=0.01)
    for row in range(4):
        student_order = sorted(range(7), key=lambda j: -scores[row, j].item())
        for p_t in range(7):
            p_s = student_order.index(p_t)
            assert w_plus[row, p_t].item() == pytest.approx(math.tanh(max(0.0, 0.3 * (p_s - p_t))) + 0.01, abs=1e-6)
            assert w_minus[row, p_t].item() == pytest.approx(math.tanh(max(0.0, 0.3 * (p_t - p_s))) + 0.01, abs=1e-6)


def test_a_student_agreeing_with_the_teacher_leaves_only_the_floor():
    scores = torch.arange(10, 0, -1, dtype=torch.float32).repeat(3, 1)       # same order as the teacher
    w_plus, w_minus = correction_weights(scores, eps=0.1, floor=1e-3)
    assert torch.allclose(w_plus, torch.full_like(w_plus, 1e-3)) and torch.allclose(w_minus, w_plus)
    positions = draw_positions(w_plus, 4, torch.Generator().manual_seed(0), keep_order=True)
    assert positions.shape == (3, 4) and (positions[:, 1:] > positions[:, :-1]).all()   # floor: still drawable


def test_draws_follow_the_weights_and_come_back_in_teacher_order():
    weights = torch.tensor([[4.0, 1.0, 1.0, 2.0]]).repeat(100_000, 1)
    draws = draw_positions(weights, 1, torch.Generator().manual_seed(1), keep_order=True)
    freq = torch.bincount(draws.reshape(-1), minlength=4).double() / 100_000
    assert torch.allclose(freq, torch.tensor([0.5, 0.125, 0.125, 0.25], dtype=torch.float64), atol=5e-3)
    lists = torch.tensor([[10, 11, 12, 13, 14, 15]])
    side = CorrectionSide(lists, eps=1.0, floor=1e-3)
    side.rerank(lambda rows, cols: torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]]))   # the reverse of the teacher
    under, over = side.draw(torch.tensor([0]), 3, torch.Generator().manual_seed(2))
    assert under.tolist() == [[10, 11, 12]]                # ranked lower by the student, in teacher order
    assert sorted(over.tolist()[0]) == [13, 14, 15]        # ranked higher by the student
    assert np.isclose(side.w_under[0, 0].item(), math.tanh(5.0) + 1e-3)


def test_two_draws_follow_successive_sampling_without_replacement():
    """P({a, b}) = w_a / S * w_b / (S - w_a) + w_b / S * w_a / (S - w_b), S the sum of the weights."""
    w = [4.0, 1.0, 1.0, 2.0]
    n = 200_000
    draws = draw_positions(torch.tensor([w]).repeat(n, 1), 2, torch.Generator().manual_seed(3), keep_order=True)
    assert (draws[:, 0] < draws[:, 1]).all()                       # distinct, in teacher order
    pair_ids = draws[:, 0] * 4 + draws[:, 1]
    freq = torch.bincount(pair_ids, minlength=16).double() / n
    total = sum(w)
    for a in range(4):
        for b in range(a + 1, 4):
            expected = w[a] / total * w[b] / (total - w[a]) + w[b] / total * w[a] / (total - w[b])
            assert freq[a * 4 + b].item() == pytest.approx(expected, abs=4e-3)
