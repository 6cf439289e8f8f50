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


def test_grouped_topology_loss_against_positive_teacher_pairs_within_groups():
    torch.manual_seed(1)
    teacher, groups = torch.randn(30, 8, dtype=torch.float64), torch.randint(0, 4, (30,))
    student = torch.randn(30, 3, dtype=torch.float64, requires_grad=True)
    reference = student.detach().clone().requires_grad_()
    loss = grouped_topology_loss(teacher, student, groups)
    c_t, c_s = cosine_matrix(teacher), cosine_matrix(reference)
    kept = [(a, b) for a in range(30) for b in range(30) if groups[a] == groups[b] and c_t[a, b] > 0]
    assert 30 < len(kept) < sum(int(groups[a] == groups[b]) for a in range(30) for b in range(30))   # some dropped
    expected = sum((c_t[a, b] - c_s[a, b]) ** 2 for a, b in kept)
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


def test_htd_loss_against_the_release_written_out_as_loops():
    """Groups: the noiseless argmax of each side's selection net, items' offset by K; entity level over
    same-group pairs of users and items with a positive teacher cosine; group level: every present group's
    prototype against every entity of both sides; plus DE's reconstruction under the same noise."""
    from Models.BPR import BPR
    from Models.DE import DE
    from Models.TD import HTD
    from Utils.tensors.sampling import gumbel_like
    torch.manual_seed(3)
    teacher = BPR(10, 20, 8).requires_grad_(False)
    student = BPR(10, 20, 4)
    de = DE(teacher, 4, torch.Generator().manual_seed(5), num_experts=3)
    htd = HTD(teacher, de, lmbda=1.0, alpha=0.3)
    htd.start_epoch(0)
    users, items = torch.arange(10), torch.arange(20)
    t = torch.cat([teacher.user_emb[users], teacher.item_emb[items]]).detach()
    s = torch.cat([student.user_emb[users], student.item_emb[items]])
    groups = torch.cat([de.user_de.selector(t[:10]).softmax(1).argmax(1), de.item_de.selector(t[10:]).softmax(1).argmax(1) + 3])
    cos = torch.nn.functional.cosine_similarity
    entity = sum((cos(t[a], t[b], dim=0) - cos(s[a], s[b], dim=0)) ** 2 for a in range(30) for b in range(30)
                 if groups[a] == groups[b] and cos(t[a], t[b], dim=0) > 0)
    group = 0.0
    for g in groups.unique():
        members = groups == g
        p_t, p_s = t[members].mean(0), s[members].mean(0).detach()
        group = group + sum((cos(t[a], p_t, dim=0) - cos(s[a], p_s, dim=0)) ** 2 for a in range(30))
    generator = torch.Generator().manual_seed(5)                     # the draws HTD makes, users then items
    noise_u, noise_i = (gumbel_like(torch.empty(n, 3), generator) for n in (10, 20))
    reconstruction = de.user_de.loss(s[:10], t[:10], de.tau, noise_u) + de.item_de.loss(s[10:], t[10:], de.tau, noise_i)
    expected = 0.3 * (entity + group) + 0.7 * reconstruction

    class Whole:                                                      # the batch API, through the student itself
        def user_repr(self, index):
            return student.user_emb[index]

        def item_repr(self, index):
            return student.item_emb[index]
    batch = Whole()
    batch.users, batch.pos, batch.neg = users, items[:10], items[10:]
    loss = htd.loss(batch)["HTD"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    grads = torch.autograd.grad(loss, [student.user_emb, student.item_emb])
    expected_grads = torch.autograd.grad(expected, [student.user_emb, student.item_emb])
    for got, want in zip(grads, expected_grads):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-6)


def test_htd_anneals_its_temperature_over_the_releases_100_epochs(tmp_path):
    import main_TD
    from planted import planted_flags, write_planted
    write_planted(str(tmp_path))
    parser, args, _ = main_TD.SCRIPT.parse(planted_flags(str(tmp_path)) + ["--variant", "htd", "--max_epoch", "1000",
                                                                       "--teacher_dim", "16", "--percent", "0.5"])
    from Models.BPR import BPR
    from Utils.training.experiment import setup
    ctx = setup(args)
    htd = main_TD.build_td(ctx, BPR(ctx.split.n_users, ctx.split.n_items, 16).requires_grad_(False))
    assert htd.de.max_epoch == 100 and htd.de.lmbda == 1.0
    assert [htd.start_epoch(e)["T"] for e in (0, 1, 51)] == [1.0, 1.0, pytest.approx(1e-5)]
    assert htd.start_epoch(200)["T"] == 1e-10
