"""A teacher's trajectory: the milestones chosen, the lists kept, and the checks on load."""
import os

import pytest
import torch

import main_teacher
from planted import planted_flags, write_planted
from Utils.errors import InputError
from Utils.training.checkpoint import read_checkpoint
from Utils.training.trajectory import (choose_by_epoch, choose_milestones, load_trajectory, top_k_with_scores,
                                      trajectory_file)
from Models.zoo import build_model


def test_milestones_at_fractions_of_the_gain_then_the_selected_epoch():
    valid = [0.10, 0.20, 0.25, 0.30, 0.42, 0.45, 0.50]          # gain 0.40: thirds at 0.233, 0.367
    assert choose_milestones(valid, 3) == [2, 4, 6]
    assert choose_milestones(valid, 1) == [6]
    assert choose_milestones([0.1, 0.2], 4) == [0, 1]           # fewer snapshots than points: all of them
    # a jump past several milestones: the next snapshots are taken, so the points stay distinct
    assert choose_milestones([0.1, 0.9, 0.91, 0.92, 1.0], 4) == [1, 2, 3, 4]
    # the latest a milestone can be still leaves room for the ones after it
    assert choose_milestones([0.1, 0.1, 0.1, 0.1, 1.0], 3) == [2, 3, 4]


def test_points_by_epoch_are_the_best_so_far_at_fractions_of_training():
    # BPR-MF's new bests come thick early and sparse late: 1, 2, 3, 5, 8, 13, 40, 77, 120, 180, then 230
    epochs = [1, 2, 3, 5, 8, 13, 40, 77, 120, 180, 230]
    chosen = choose_by_epoch(epochs, 4)                          # targets 57.5, 115, 172.5, then 230
    assert [epochs[i] for i in chosen] == [40, 77, 120, 230]
    assert choose_by_epoch(epochs, 1) == [10] and choose_by_epoch([3, 9], 4) == [0, 1]
    # every target before the first snapshot: the first ones, kept distinct
    assert [[100, 101, 102, 103, 104][i] for i in choose_by_epoch([100, 101, 102, 103, 104], 3)] == [100, 101, 104]
    # a loop over the definition, on random increasing epochs
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        epochs = sorted(set(torch.randint(0, 300, (12,), generator=generator).tolist()))
        chosen = choose_by_epoch(epochs, 4)
        assert chosen == sorted(set(chosen)) and chosen[-1] == len(epochs) - 1 and len(chosen) == min(4, len(epochs))
        if len(epochs) > 4:
            for k, i in enumerate(chosen[:-1], start=1):
                target = k / 4 * epochs[-1]
                previous = chosen[k - 2] if k > 1 else -1
                candidates = [j for j in range(previous + 1, len(epochs) - (4 - k)) if epochs[j] <= target]
                assert i == (candidates[-1] if candidates else previous + 1)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("trajectory"))
    write_planted(root)
    common = planted_flags(root)
    result = main_teacher.main(common + ["--dim", "16", "--lr", "0.002", "--trajectory", "3", "--trajectory_K", "5"])
    return result


def test_the_trajectory_ends_with_the_checkpoints_own_ranking(recorded):
    path = trajectory_file(recorded.checkpoint_path, 3, 5)
    stored = read_checkpoint(path)
    state = stored["state"]
    checkpoint = read_checkpoint(recorded.checkpoint_path)
    assert len(state["epochs"]) == 3 and state["epochs"] == sorted(set(state["epochs"]))
    assert state["epochs"][-1] == checkpoint["epoch"]
    assert state["items"].shape[0] == 3 and state["items"].shape[2] == 5
    assert state["valid_H@5"][-1] == pytest.approx(checkpoint["valid"]["H@5"])
    key = {k: v for k, v in stored["key"].items() if k not in ("trajectory", "trajectory_K")}
    assert load_trajectory(path, key, 3, 5)["epochs"] == state["epochs"]


def test_a_trajectory_of_another_run_or_with_changed_lists_is_refused(recorded, tmp_path):
    path = trajectory_file(recorded.checkpoint_path, 3, 5)
    stored = read_checkpoint(path)
    key = {k: v for k, v in stored["key"].items() if k not in ("trajectory", "trajectory_K")}
    with pytest.raises(InputError, match="trajectory_K: checkpoint 5 vs run 10"):
        load_trajectory(path, key, 3, 10)
    with pytest.raises(InputError, match="seed: checkpoint 0 vs run 1"):
        load_trajectory(path, dict(key, seed=1), 3, 5)
    stored["state"]["items"][0, 0, 0] += 1
    tampered = tmp_path / "tampered.pt"
    torch.save(stored, tampered)
    with pytest.raises(InputError, match="checksum"):
        load_trajectory(str(tampered), key, 3, 5)


def test_lists_are_each_users_top_unobserved_items_by_score():
    from test_models import graph_split
    split = graph_split(5, 12)
    model = build_model("bpr", split, 4)
    items, scores = top_k_with_scores(model, split, 4, torch.device("cpu"))
    every = model.score_all(torch.arange(5))
    for u in range(5):
        seen = set(split.train_items[split.train_users == u].tolist())
        ranked = sorted((j for j in range(12) if j not in seen), key=lambda j: -every[u, j].item())[:4]
        assert items[u].tolist() == ranked
        assert torch.allclose(scores[u], every[u, ranked])
