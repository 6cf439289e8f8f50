"""HetComp against loop references: the ensemble ranking, the student-checkpoint distance, the advance
rule, the observed items' order, the ensemble's evaluation scores and both stages of the loss
(values and gradients); then the entry script on the planted data."""
import json
import math
import os

import numpy as np
import pytest
import torch

import main_HetComp
from Models.BPR import BPR
from Models.HetComp import CheckpointSchedule, HetComp, ensemble_top, overlap_ndcg
from Models.method import Batch
from Models.RRD import relaxed_ranking_loss
from planted import planted_flags, write_planted
from Utils.data.dataset import SplitData
from Utils.errors import InputError
from Utils.tensors.row_gradients import RowGradients
from Utils.training.hetcomp import FAMILIES, RankEnsemble, family_args, observed_in_teacher_order


def random_lists(rng, n_teachers, n_users, length, n_items):
    return torch.tensor(np.stack([[rng.choice(n_items, length, replace=False) for _ in range(n_users)]
                                  for _ in range(n_teachers)]))


def test_ensemble_top_matches_a_per_user_loop():
    rng = np.random.default_rng(0)
    lists = random_lists(rng, 3, 20, 6, 12)              # few items: many shared and tied
    lists[1, 0] = lists[0, 0]                            # identical lists: exact ties in user 0
    lists[2, 0] = torch.flip(lists[0, 0], [0])
    got = ensemble_top(lists, 4, 10.0, 12)
    for u in range(20):
        importance = {}
        for t in range(3):
            for r, item in enumerate(lists[t, u].tolist()):
                importance[item] = importance.get(item, 0.0) + math.exp(-r / 10.0)
        expected = sorted(importance, key=lambda i: (-importance[i], i))[:4]
        assert got[u].tolist() == expected


def test_overlap_ndcg_matches_the_authors_formula():
    rng = np.random.default_rng(1)
    student, teacher = random_lists(rng, 2, 15, 5, 9)
    got = overlap_ndcg(student, teacher, 10.0)
    for u in range(15):
        gains = [(2 ** math.exp(-t / 10) - 1) / math.log2(t + 2) for t in range(5)]
        dcg = sum(g for t, g in enumerate(gains) if student[u, t].item() in set(teacher[u].tolist()))
        assert got[u].item() == pytest.approx(dcg / sum(gains), abs=1e-12)
    assert torch.allclose(overlap_ndcg(teacher, teacher), torch.ones(15, dtype=torch.float64))


def schedule_reference(lengths, distances, epochs, alpha, decay, every):
    """The advance rule one (teacher, user) at a time, as the release's loop."""
    n_teachers, n_users = len(lengths), distances.shape[3]
    current = [[0] * n_users for _ in lengths]
    last = None
    for step, epoch in enumerate(epochs):
        d = distances[step]                                   # [T, N, U]: distance to checkpoint v of t
        if last is None:
            last = [[d[t][min(1, lengths[t] - 1)][u] for u in range(n_users)] for t in range(n_teachers)]
            continue
        th = alpha * decay ** (epoch // every)
        for t in range(n_teachers):
            for u in range(n_users):
                v = current[t][u]
                if v == lengths[t] - 1:
                    continue
                ratio = last[t][u] / d[t][min(v + 1, lengths[t] - 1)][u]
                if ratio > th or ratio < 1:
                    current[t][u] = v + 1
                    last[t][u] = d[t][min(v + 2, lengths[t] - 1)][u]
    return current


def test_advance_rule_matches_the_per_user_loop():
    rng = np.random.default_rng(2)
    lengths, n_users, epochs = [4, 3], 40, [10, 20, 30, 40, 50, 60]
    # distances that drift by a few percent per check, so that some pairs advance and some wait
    drift = np.cumprod(rng.uniform(0.96, 1.01, size=(len(epochs), 2, 4, n_users)), axis=0)
    distances = rng.uniform(0.2, 1.0, size=(1, 2, 4, n_users)) * drift
    schedule = CheckpointSchedule(lengths, n_users, alpha=1.05, decay=0.995, every=10)
    for step, epoch in enumerate(epochs):
        table = torch.tensor(distances[step])
        schedule.update(epoch, lambda t, v: table[t, v, torch.arange(n_users)])
    expected = schedule_reference(lengths, distances, epochs, 1.05, 0.995, 10)
    assert schedule.current.tolist() == expected
    assert 0 < schedule.current.sum() < sum(n - 1 for n in lengths) * n_users    # some moved, not all


def toy_split(n_users=12, n_items=30, per_user=5, seed=3):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    users, items = users[:-2], items[:-2]                    # the last user has fewer observed items
    return SplitData("toy", n_users, n_items, users, items, np.full(n_users, -1), np.full(n_users, -1), "hand")


def observed_sets(split):
    sets = [set() for _ in range(split.n_users)]
    for u, i in zip(split.train_users, split.train_items):
        sets[u].add(int(i))
    return sets


def test_observed_items_follow_the_teachers_ensemble_order():
    split = toy_split()
    torch.manual_seed(0)
    models = [BPR(split.n_users, split.n_items, 4), BPR(split.n_users, split.n_items, 4)]
    got = observed_in_teacher_order(models, split, 4, 10.0, torch.device("cpu"), chunk=5)
    for u, items in enumerate(observed_sets(split)):
        importance = dict.fromkeys(items, 0.0)
        for m in models:
            scores = {i: m.score_all(torch.tensor([u]))[0, i].item() for i in items}
            for r, i in enumerate(sorted(items, key=lambda i: (-scores[i], i))):
                importance[i] += math.exp(-r / 10.0)
        expected = sorted(items, key=lambda i: (-importance[i], i))[:4]
        assert got[u].tolist() == expected + [-1] * (4 - len(expected))


def test_rank_ensemble_scores_count_the_unobserved_items_ranked_higher():
    split = toy_split()
    torch.manual_seed(1)
    models = [BPR(split.n_users, split.n_items, 4), BPR(split.n_users, split.n_items, 4)]
    ensemble = RankEnsemble(models, split, 10.0, torch.device("cpu"))
    users = torch.arange(split.n_users)
    observed = observed_sets(split)           # candidates are unobserved items, as in the evaluator
    candidates = torch.tensor(np.stack([np.random.default_rng(u).choice(sorted(set(range(split.n_items)) - observed[u]),
                                                                         6, replace=False)
                                        for u in range(split.n_users)]))
    got = ensemble.score_candidates(users, type("Scorer", (), {"items": candidates})())
    for u, observed in enumerate(observed_sets(split)):
        for c, item in enumerate(candidates[u].tolist()):
            expected = 0.0
            for m in models:
                row = m.score_all(torch.tensor([u]))[0]
                ahead = sum(1 for j in range(split.n_items) if j not in observed and row[j] > row[item])
                expected += math.exp(-ahead / 10.0)
            assert got[u, c].item() == pytest.approx(expected, rel=1e-9)


def test_masked_relaxed_ranking_loss_equals_the_loss_on_the_present_entries():
    torch.manual_seed(2)
    scores, rest = torch.randn(5, 6) * 3, torch.randn(5)
    present = torch.arange(6).expand(5, 6) < torch.tensor([[6], [3], [1], [4], [2]])
    got = relaxed_ranking_loss(scores, rest, present)
    for r in range(5):
        n = int(present[r].sum())
        assert got[r].item() == pytest.approx(relaxed_ranking_loss(scores[r:r + 1, :n], rest[r:r + 1]).item(), rel=1e-6)


def hetcomp_reference_loss(student, method, split, users, final):
    """Both stages written out from the full score rows (module doc of Models/HetComp.py)."""
    observed = observed_sets(split)
    total = 0.0
    for u in torch.unique(users).tolist():
        scores = student.user_emb[u] @ student.item_emb.T
        top = method.top[u].tolist()
        positives = [i for i in method.observed[u].tolist() if i >= 0]

        def rest(m):
            return sum(torch.exp(scores[j]) for j in range(len(scores)) if j not in observed[u] and j not in top[:m])

        def plackett_luce(items, mass):
            return -sum(scores[i] - torch.log(sum(torch.exp(scores[j]) for j in items[k:]) + mass)
                        for k, i in enumerate(items))
        if not final:
            total = total - method.lmbda * sum(torch.log(torch.exp(scores[i]) / (torch.exp(scores[i]) + rest(method.K)))
                                               for i in positives + top)
        else:
            loss = plackett_luce(positives, rest(method.final_top)) + 0.5 * (
                plackett_luce(top[:method.final_top], rest(method.final_top))
                + plackett_luce(top[:method.final_sub], rest(method.final_sub)))
            total = total + method.lmbda_final * loss
    return total


@pytest.mark.parametrize("final", [False, True])
def test_hetcomp_loss_and_gradients_match_the_written_out_formula(final):
    split = toy_split()
    rng = np.random.default_rng(4)
    torch.manual_seed(3)
    observed = observed_sets(split)
    lists = []
    for _ in range(2):                                     # two teachers, three checkpoints each
        per_user = [rng.choice(sorted(set(range(split.n_items)) - observed[u]), 8, replace=False)
                    for u in range(split.n_users) for _ in range(3)]
        lists.append(torch.tensor(np.array(per_user)).view(split.n_users, 3, 8).transpose(0, 1).contiguous())
    positives = observed_in_teacher_order([BPR(split.n_users, split.n_items, 4)], split, 4, 10.0, torch.device("cpu"))
    student = BPR(split.n_users, split.n_items, 3)
    with torch.no_grad():
        for table in student.tables():
            table.mul_(100)
    method = HetComp(lists, positives, split, student, K=6, final_top=4, final_sub=2)
    if final:
        method.schedule.current[:] = 2
        method.final = True
        method.top = method.current_ensemble()
    users = torch.tensor([0, 3, 3, 7, 11])
    grads = RowGradients(student.tables())
    got = method.loss(Batch(users, users, users, student, grads))["HetComp"]
    got.backward()
    grads.accumulate()
    fast = [t.grad.clone() for t in student.tables()]
    for t in student.tables():
        t.grad = None
    expected = hetcomp_reference_loss(student, method, split, users, final)
    expected.backward()
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    for mine, table in zip(fast, student.tables()):
        assert torch.allclose(mine, table.grad, rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("planted_hetcomp"))
    write_planted(root)
    flags = planted_flags(root) + ["--dim", "8", "--teacher_path", os.path.join(root, "saved"), "--trajectory", "2",
                                   "--trajectory_K", "12", "--ndcg_K", "5", "--every", "3", "--max_epoch", "60", "--lr", "0.05",
                                   "--early_stop", "60",
                                   # CML's plain hinge: with 20 of 38 unobserved items drawn per pair, WARP's
                                   # closest negative is often a withheld in-group item (tests/test_models.py)
                                   "--cml_negatives", "1",
                                   # the ensemble's list holds the two unobserved items of the user's group
                                   # (its valid and test items) once the teachers learned the groups
                                   "--HetComp_K", "2", "--final_top", "2", "--final_sub", "1", "--observed", "2"]
    return root, flags


def test_hetcomp_trains_missing_teachers_then_ranks_withheld_items_first(planted, capsys):
    root, flags = planted
    result = main_HetComp.main(flags + ["--teachers", "bpr", "cml"])
    assert "training it first" in capsys.readouterr().err
    ranks = result.best_ranks["test"]
    assert float(np.mean(ranks[ranks > 0] == 1)) >= 0.95 and result.final["test"]["H@5"] >= 0.95
    again = main_HetComp.main(flags + ["--teachers", "bpr", "cml", "--max_epoch", "2", "--run_name", "again"])
    assert "training it first" not in capsys.readouterr().err
    with open(os.path.join(root, "logs", "planted", "again.log")) as f:
        log = f.read()
    assert "trained here: none" in log and log.count("Teacher:: ") == 2 and "Ensemble of the final checkpoints" in log
    assert again.final["epochs_run"] == 2


def test_hetcomp_trains_beside_the_students_own_loss_only_when_asked(planted):
    """--HetComp_base 1 (the KDs toolkit's training: BPR + HetComp) logs both terms; the default, HetComp alone."""
    root, flags = planted
    terms = {}
    for base in (0, 1):
        name = f"base{base}"
        main_HetComp.main(flags + ["--teachers", "bpr", "cml", "--max_epoch", "2", "--HetComp_base", str(base),
                                   "--run_name", name])
        with open(os.path.join(root, "logs", "planted", f"{name}.jsonl")) as f:
            epochs = [json.loads(line) for line in f if '"epoch"' in line[:12]]
        terms[base] = set(epochs[-1]["losses"])
        assert epochs[-1]["loss"] == pytest.approx(sum(epochs[-1]["losses"].values()), rel=1e-6)
    assert terms == {0: {"HetComp"}, 1: {"BPR", "HetComp"}}


@pytest.mark.parametrize("protocol, sizes", [("loo", {"bpr": 200, "neumf": 250}), ("kds", {"bpr": 400, "neumf": 400})])
def test_family_teachers_take_their_size_and_training_from_the_protocol(protocol, sizes):
    _, args, _ = main_HetComp.parse(["--protocol", protocol])
    for family, dim in sizes.items():
        _, flags = family_args(args, family)
        assert (flags.model, flags.dim, flags.batch_size) == (family, dim, 2048 if protocol == "kds" else 1024)


def test_every_family_teacher_gets_its_own_training_over_the_defaults():
    """Each family's flags are those of main_teacher.py for it (LightGCN: --reg 0, its own L2 instead;
    the six-family default run once failed here, on LightGCN's reg given twice)."""
    _, args, _ = main_HetComp.parse([])
    for family in FAMILIES:
        _, flags = family_args(args, family)
        assert (flags.model, flags.lr, flags.seed, flags.trajectory) == (family, 1e-3, 0, 4)
        assert flags.reg == (0.0 if family == "lightgcn" else 1e-3)


def test_hetcomp_refuses_bad_teachers_with_one_clear_error(planted):
    root, flags = planted
    with pytest.raises(InputError, match="neither a base model"):
        main_HetComp.main(flags + ["--teachers", "bpr", "nonsense"])
    with pytest.raises(InputError, match="twice"):
        main_HetComp.main(flags + ["--teachers", "bpr", "bpr"])
    with pytest.raises(InputError, match="no trajectory beside it"):
        main_HetComp.main(flags + ["--trajectory", "3", "--teachers"] + [
            os.path.join(root, "saved", "planted", f) for f in os.listdir(os.path.join(root, "saved", "planted"))
            if f.startswith("BPR_dim200") and f.endswith(".pt") and "trajectory" not in f])
    with pytest.raises(InputError, match="dot-product student"):
        main_HetComp.main(flags + ["--model", "cml"])
    with pytest.raises(InputError, match="--HetComp_K"):
        main_HetComp.main(flags + ["--HetComp_K", "20", "--final_sub", "2"])
