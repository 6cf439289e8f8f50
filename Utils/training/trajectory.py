"""A teacher's trajectory (HetComp, docs/methods.md): its ranking at a few points along training, kept
as each user's top-K unobserved items with their scores (never a users x items matrix).

While the teacher trains, every epoch that improves the validation selection leaves a snapshot (top-K
items and scores of every user, written to a temporary file beside the checkpoint, so memory stays at
one snapshot). When training ends, N of them are kept: the last one (the selected checkpoint's own
ranking) and, for k = 1 .. N-1, the first snapshot whose validation H@5 reaches

    v_first + k / N * (v_selected - v_first)

(v_first: the first snapshot's validation H@5); when two milestones fall on one snapshot, the next
snapshot is taken, so the N points are distinct as long as there are N snapshots. Saved as
``<checkpoint stem>.trajectory<N>_top<K>.pt`` with the checkpoint's key plus (trajectory, K) and a
sha256 of the lists, both checked on load.
"""
import hashlib
import os
import shutil
import tempfile

import torch

from Utils.errors import InputError
from Utils.tensors.csr import build_csr
from Utils.training.checkpoint import load_checkpoint, save_checkpoint
from Utils.training.ranking_lists import top_unobserved_by


def choose_milestones(valid, n):
    """valid: validation H@5 of the snapshots in order (the last = the selected epoch) -> the indices
    of the N kept (ascending): milestones at fractions k/N of the gain, then the last."""
    if len(valid) <= n:
        return list(range(len(valid)))
    first, last = valid[0], valid[-1]
    chosen = []
    for k in range(1, n):
        target = first + k / n * (last - first)
        start = chosen[-1] + 1 if chosen else 0
        reached = [i for i in range(start, len(valid) - (n - k)) if valid[i] >= target]
        chosen.append(reached[0] if reached else len(valid) - 1 - (n - k))
    return chosen + [len(valid) - 1]


def top_k_with_scores(model, split, k, device, csr=None):
    """Each user's k highest-scoring unobserved items and their scores -> (int32 [U, k], float32 [U, k]).
    csr: the split's (pointer, observed) when the caller keeps it."""
    pointer, observed = csr or build_csr(split.train_users, split.train_items, split.n_users, device)
    items, scores = top_unobserved_by(model.score_all, split.n_users, pointer, observed, k, device, with_scores=True)
    return items.to(torch.int32).cpu(), scores.cpu()


def lists_checksum(items, scores):
    digest = hashlib.sha256(items.numpy().astype("<i4").tobytes())
    digest.update(scores.numpy().astype("<f4").tobytes())
    return digest.hexdigest()


class TrajectoryRecorder:
    """Snapshots of the improving epochs while training; ``save`` keeps N of them."""

    def __init__(self, split, n, k, device, folder):
        if k >= split.n_items:
            raise InputError(f"--trajectory_K {k} must be below the number of items ({split.n_items})")
        self.split, self.n, self.k, self.device = split, n, k, device
        self.csr = build_csr(split.train_users, split.train_items, split.n_users, device)   # once, not per snapshot
        os.makedirs(folder, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=".trajectory_", dir=folder)
        self.epochs, self.valid = [], []

    def __call__(self, epoch, results, model):
        """The trainer's hook at an improving epoch."""
        items, scores = top_k_with_scores(model, self.split, self.k, self.device, self.csr)
        torch.save({"items": items, "scores": scores}, os.path.join(self.tmp, f"{len(self.epochs)}.pt"))
        self.epochs.append(epoch)
        self.valid.append(float(results["valid"]["H@5"]))

    def save(self, path, key):
        try:
            chosen = choose_milestones(self.valid, self.n)
            snapshots = [torch.load(os.path.join(self.tmp, f"{i}.pt"), weights_only=True) for i in chosen]
            items = torch.stack([s["items"] for s in snapshots])
            scores = torch.stack([s["scores"] for s in snapshots])
            state = {"epochs": [self.epochs[i] for i in chosen], "valid_H@5": [self.valid[i] for i in chosen],
                     "items": items, "scores": scores}
            save_checkpoint(path, state, trajectory_key(key, self.n, self.k),
                            {"checksum": lists_checksum(items, scores)})
            return state
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def trajectory_key(checkpoint_key, n, k):
    return dict(checkpoint_key, trajectory=n, trajectory_K=k)


def trajectory_file(checkpoint_path, n, k):
    return f"{os.path.splitext(checkpoint_path)[0]}.trajectory{n}_top{k}.pt"


def load_trajectory(path, checkpoint_key, n, k):
    """The saved trajectory; refused when its key or checksum does not match."""
    stored = load_checkpoint(path, trajectory_key(checkpoint_key, n, k))
    state = stored["state"]
    if stored.get("checksum") != lists_checksum(state["items"], state["scores"]):
        raise InputError(f"{path}: its lists do not match their checksum; delete it to record again")
    return state
