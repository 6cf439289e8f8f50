"""A teacher's trajectory (HetComp, docs/methods.md): its ranking at a few points along training, kept
as each user's top-K unobserved items with their scores (never a users x items matrix).

While the teacher trains, the improving epochs (of the validation selection) that set a new best
validation H@5 leave a snapshot of the model's parameters in ``<checkpoint stem>.snapshots/``,
and the last improving epoch is kept too (the selected checkpoint). When training ends, N of them are
chosen (``--trajectory_spacing``): with ``epochs`` (the default) the last one and, for k = 1 .. N-1, the
best model so far at epoch k/N of the selected one (the last snapshot at or before it), so the points
spread over the whole training as checkpoints saved at fixed intervals do (the KDs toolkit saves one
every 50 epochs; the HetComp release ships its precomputed trajectories, not how they were chosen); with
``gain``, the last one and, for k = 1 .. N-1, the first snapshot whose validation H@5 reaches

    v_first + k / N * (v_selected - v_first)

(v_first: the first snapshot's validation H@5); when two milestones fall on one snapshot, the next
snapshot is taken, so the N points are distinct as long as there are N snapshots. Only the N chosen
are ranked (top-K items and scores of every user), so ranking cost is N full passes whatever the
length of training (a NeuMF pass over every user and item takes minutes on a CPU); the temporary
folder holds one parameter copy per new best (about 2 GB for the BPR-MF teacher on CiteULike) and is
removed at the end. An epoch that improves the selection without a new best H@5 can never be the
first to reach a milestone, so keeping only the new bests chooses what keeping all would. Saved as
``<checkpoint stem>.trajectory<N>_top<K>.pt`` with the checkpoint's key plus (trajectory, K) and a
sha256 of the lists, both checked on load.
"""
import copy
import hashlib
import os
import shutil

import torch

from Utils.errors import InputError
from Utils.tensors.csr import build_csr
from Utils.training.checkpoint import load_checkpoint, save_checkpoint
from Utils.tensors.top_unobserved import top_unobserved_by


SPACINGS = ("epochs", "gain")


def choose_by_epoch(epochs, n):
    """epochs: the snapshots' epochs in order (new bests, the last = the selected epoch) -> the indices of
    the N kept (ascending): for k = 1 .. N-1 the last snapshot at or before epoch k/N of the selected
    one (the best model so far at that point of training), later ones where it would repeat, then the last."""
    if len(epochs) <= n:
        return list(range(len(epochs)))
    chosen = []
    for k in range(1, n):
        target = k / n * epochs[-1]
        start = chosen[-1] + 1 if chosen else 0
        stop = len(epochs) - (n - k)                        # leave a snapshot for each later point
        at_or_before = [i for i in range(start, stop) if epochs[i] <= target]
        chosen.append(at_or_before[-1] if at_or_before else start)
    return chosen + [len(epochs) - 1]


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
    """Parameter snapshots of the improving epochs while training; ``save`` ranks and keeps N of them.

    The snapshots live in ``folder`` as ``epoch<e>.pt``; a snapshot the recorder stops needing is deleted
    only once a resume state that no longer refers to it is saved (``saved``), so an interrupted run
    resumes with every snapshot its state names (``load_state_dict`` removes those written after it)."""

    def __init__(self, split, n, k, device, folder, spacing="epochs", metric="H@5"):
        if k >= split.n_items:
            raise InputError(f"--trajectory_K {k} must be below the number of items ({split.n_items})")
        if spacing not in SPACINGS:
            raise InputError(f"--trajectory_spacing {spacing!r}: one of {', '.join(SPACINGS)}")
        self.split, self.n, self.k, self.device, self.spacing = split, n, k, device, spacing
        self.metric = metric                     # the validation metric followed (the protocol's headline)
        self.tmp = folder
        os.makedirs(folder, exist_ok=True)
        self.epochs, self.valid = [], []          # the kept snapshots: new bests, then the last improving epoch
        self.last_is_best = True

    def __call__(self, epoch, results, model):
        """The trainer's hook at an improving epoch."""
        value = float(results["valid"][self.metric])
        if not self.last_is_best:                # the previous last snapshot was not a new best: drop it
            self.epochs.pop()
            self.valid.pop()
        self.last_is_best = not self.valid or value > max(self.valid)
        torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, self._file(epoch))
        self.epochs.append(epoch)
        self.valid.append(value)

    def _file(self, epoch):
        return os.path.join(self.tmp, f"epoch{epoch}.pt")

    def _remove_unlisted(self):
        listed = {os.path.basename(self._file(e)) for e in self.epochs}
        for file in os.listdir(self.tmp):
            if file not in listed:
                os.remove(os.path.join(self.tmp, file))

    def reset(self):
        """A fresh run: forget the snapshots of an earlier one."""
        self.epochs, self.valid, self.last_is_best = [], [], True
        self._remove_unlisted()

    def saved(self):
        """A resume state naming only ``self.epochs`` was saved: the other snapshots can go."""
        self._remove_unlisted()

    def state_dict(self):
        return {"epochs": list(self.epochs), "valid": list(self.valid), "last_is_best": self.last_is_best}

    def load_state_dict(self, state):
        self.epochs, self.valid, self.last_is_best = list(state["epochs"]), list(state["valid"]), state["last_is_best"]
        missing = [e for e in self.epochs if not os.path.isfile(self._file(e))]
        if missing:
            raise InputError(f"{self.tmp}: the snapshots of epochs {missing} that the resume state names are gone; "
                             "give --restart to train again")
        self._remove_unlisted()

    def save(self, path, key, trained):
        """Rank the N chosen snapshots and save them to ``path`` with ``key``; ``trained`` (the model the
        snapshots are of) is left in its final state. -> the saved state."""
        try:
            chosen = choose_by_epoch(self.epochs, self.n) if self.spacing == "epochs" else \
                choose_milestones(self.valid, self.n)
            model = copy.deepcopy(trained)
            csr = build_csr(self.split.train_users, self.split.train_items, self.split.n_users, self.device)
            lists = []
            for i in chosen:
                model.load_state_dict(torch.load(self._file(self.epochs[i]), weights_only=True))
                model.eval()
                lists.append(top_k_with_scores(model, self.split, self.k, self.device, csr))
            items = torch.stack([items for items, _ in lists])
            scores = torch.stack([scores for _, scores in lists])
            state = {"epochs": [self.epochs[i] for i in chosen], f"valid_{self.metric}": [self.valid[i] for i in chosen],
                     "items": items, "scores": scores}
            save_checkpoint(path, state, trajectory_key(key, self.n, self.k, self.spacing),
                            {"checksum": lists_checksum(items, scores)})
            return state
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def trajectory_key(checkpoint_key, n, k, spacing="epochs"):
    return dict(checkpoint_key, trajectory=n, trajectory_K=k, trajectory_spacing=spacing)


def trajectory_file(checkpoint_path, n, k, spacing="epochs"):
    return f"{os.path.splitext(checkpoint_path)[0]}.trajectory{n}_top{k}{'' if spacing == 'epochs' else '_' + spacing}.pt"


def load_trajectory(path, checkpoint_key, n, k, spacing="epochs"):
    """The saved trajectory; refused when its key (spacing included) or checksum does not match."""
    stored = load_checkpoint(path, trajectory_key(checkpoint_key, n, k, spacing))
    state = stored["state"]
    if stored.get("checksum") != lists_checksum(state["items"], state["scores"]):
        raise InputError(f"{path}: its lists do not match their checksum; delete it to record again")
    return state
