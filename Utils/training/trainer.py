"""The one training loop shared by every entry script (docs/methods.md, Protocol).

Per epoch: resample the negatives (and whatever the method resamples), shuffle the training
triples, take Adam steps on batches of ``batch_size``, evaluate, select per N, early-stop.
"""
import copy
import math
import resource
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from Models.method import Batch
from Utils.errors import RunDiverged
from Utils.training.listeners import notify
from Utils.training.resume import restore_rng, rng_state
from Utils.tensors.row_gradients import RowGradients, guard_against_direct_use
from Utils.tensors.sampling import PairSet, sample_negatives, torch_draw


def peak_rss_mb():
    """The process's peak resident memory so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class TrainResult:
    best_state: dict         # the student's state at the last improving epoch
    final: dict              # selected metrics, epochs, timings
    best_ranks: dict         # per-user target ranks at the last improving epoch (numpy)
    checkpoint_path: str = None   # where the run saved best_state, if it did


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_optimizer(params, lr, reg):
    """Adam with coupled L2 (torch's weight_decay); the fused kernel where the device has one."""
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=reg, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, weight_decay=reg, foreach=True)


class TrainingData:
    """Training interactions on the device, with the membership set the negative sampler rejects."""

    def __init__(self, split, device, num_ns=1):
        users = torch.from_numpy(split.train_users).to(device)
        items = torch.from_numpy(split.train_items).to(device)
        self.train_set = PairSet(users, items, split.n_items)
        self.users = users.repeat(num_ns)
        self.pos = items.repeat(num_ns)
        self.n_items = split.n_items


def draw_negatives(data, per_pair, draw):
    """Each training pair's negatives for an epoch: [n] (one, the loop's default) or [n, per_pair]."""
    if per_pair == 1:
        return sample_negatives(data.users, data.n_items, data.train_set, draw)
    users = data.users.repeat_interleave(per_pair)
    return sample_negatives(users, data.n_items, data.train_set, draw).view(-1, per_pair)


class Steps:
    """The optimiser steps of one student and method: each batch's loss terms, one backward, Adam,
    and the row-sparse gradient bookkeeping of the student's tables."""

    def __init__(self, student, method, lr, reg):
        self.student, self.method = student, method
        tables = student.tables()
        self.grads = RowGradients(tables)
        self.guard = guard_against_direct_use(tables)
        self.dense_params = list(student.dense_parameters()) + list(method.parameters())
        self.optimizer = make_optimizer(tables + self.dense_params, lr, reg)

    def run(self, users, pos, neg, batch_size, totals):
        """Steps on consecutive slices of ``batch_size`` of users/pos [n] and neg [n] (or [n, U], several per
        pair); adds each term's detached value into ``totals`` {name: tensor}."""
        for start in range(0, len(users), batch_size):
            stop = start + batch_size
            several = neg.dim() == 2
            batch = Batch(users[start:stop], pos[start:stop], neg[start:stop, 0] if several else neg[start:stop],
                          self.student, self.grads, negatives=neg[start:stop] if several else None)
            terms = {self.student.loss_name: self.student.train_loss(batch)} if self.method.base_loss else {}
            terms.update(self.method.loss(batch))
            differentiable = [v for v in terms.values() if v.requires_grad]
            if differentiable:
                for p in self.dense_params:
                    p.grad = None
                sum(differentiable).backward()
            self.grads.accumulate()
            self.optimizer.step()
            self.grads.clear()
            for name, value in terms.items():
                totals[name] = totals.get(name, 0.0) + value.detach()

    def close(self):
        for handle in self.guard:
            handle.remove()


@dataclass
class Progress:
    """What the loop carries besides the models: the best state and its ranks, epoch times, the run's pieces."""
    best_state: dict = None
    best_ranks: dict = None
    times: list = None
    pieces: list = None


def latest_stop(cfg, selection):
    """The number of epochs the run trains if validation never improves again (early stopping's patience
    from the last improvement, or from --es_epoch, in evaluations every --eval_every epochs, capped by
    --max_epoch): the progress bar's total, so its
    ETA is that of the latest stop rather than of --max_epoch."""
    last = selection.last_improved_epoch
    return min(cfg.max_epoch, (cfg.es_epoch if last is None else last) + 1 + cfg.early_stop * cfg.eval_every)


def training_state(epoch, student, method, steps, generator, selection, logger, progress, hook):
    """Everything the epochs after ``epoch`` depend on (Utils/training/resume.py), tensors and plain values."""
    return {"epoch": epoch, "student": student.state_dict(), "method": method.state_dict(),
            "optimizer": steps.optimizer.state_dict(), "rng": rng_state(generator),
            "selection": selection.state_dict(), "log": logger.state_dict(),
            "best_state": progress.best_state,
            "best_ranks": None if progress.best_ranks is None else
            {k: torch.from_numpy(v) for k, v in progress.best_ranks.items()},
            "times": list(progress.times), "pieces": progress.pieces,
            "hook": hook.state_dict() if hasattr(hook, "state_dict") else None}


def restore_training_state(state, student, method, steps, generator, selection, progress, hook):
    """Load a :func:`training_state` into the run's objects (the logger is restored by the caller) -> the
    first epoch to train."""
    device = generator.device
    student.load_state_dict(state["student"])
    method.load_state_dict(state["method"], device)
    steps.optimizer.load_state_dict(state["optimizer"])
    restore_rng(generator, state["rng"])
    selection.load_state_dict(state["selection"])
    progress.best_state = None if state["best_state"] is None else \
        {k: v.to(device) for k, v in state["best_state"].items()}
    progress.best_ranks = None if state["best_ranks"] is None else \
        {k: v.numpy() for k, v in state["best_ranks"].items()}
    progress.times = list(state["times"])
    if hasattr(hook, "load_state_dict"):
        hook.load_state_dict(state["hook"])
    return state["epoch"] + 1


def train(student, method, split, evaluator, cfg, logger, generator, on_improved=None, resume=None, piece=None):
    """Train ``student`` (a Models.base.BaseModel) with its own loss + ``method``'s terms; returns a
    TrainResult. ``on_improved(epoch, results, student)`` is called at each improving epoch, the student
    in eval mode (a teacher's trajectory). ``resume``: a ResumeFile (Utils/training/resume.py); its
    ``state``, when found, is continued, and the state is saved into it at the end of epochs as it says.
    ``piece``: a description of this process (commit, device) added to the run's list of pieces."""
    device = generator.device
    data = TrainingData(split, device, cfg.num_ns)
    steps = Steps(student, method, cfg.lr, cfg.reg)
    draw = torch_draw(generator)
    selection = evaluator.selection(cfg.early_stop)
    progress = Progress(times=[], pieces=[])
    first_epoch = 0
    if resume is not None and resume.state is not None:
        progress.pieces = list(resume.state["pieces"])
        first_epoch = restore_training_state(resume.state, student, method, steps, generator, selection, progress,
                                             on_improved)
        resume.state = None             # restored: free its copy of the tensors
    elif hasattr(on_improved, "reset"):
        on_improved.reset()
    progress.pieces.append(dict(piece or {}, first_epoch=first_epoch))
    n = len(data.users)
    last_epoch = first_epoch - 1
    epochs = tqdm(range(first_epoch, cfg.max_epoch), desc=getattr(logger, "name", method.name), unit="epoch",
                  disable=None, leave=False, initial=first_epoch, total=latest_stop(cfg, selection))
    for epoch in epochs:
        last_epoch = epoch
        synchronize(device)
        t0 = time.perf_counter()
        schedule = method.start_epoch(epoch)
        negatives = draw_negatives(data, getattr(student, "negatives_per_triple", 1), draw)
        order = torch.randperm(n, generator=generator, device=device)
        synchronize(device)
        t1 = time.perf_counter()
        totals = {}
        steps.run(data.users[order], data.pos[order], negatives[order], cfg.batch_size, totals)   # batches are slices
        n_batches = -(-n // cfg.batch_size)
        losses = {name: float(value) / n_batches for name, value in totals.items()}
        if not all(math.isfinite(v) for v in losses.values()):
            raise RunDiverged(f"epoch {epoch}: the training loss is not finite ({losses}); "
                              "lower --lr or the distillation weights")
        synchronize(device)
        t2 = time.perf_counter()
        record = {"epoch": epoch, "loss": sum(losses.values()), "losses": losses}
        schedule.update(method.end_epoch())
        evaluated = epoch >= cfg.es_epoch and (epoch - cfg.es_epoch) % cfg.eval_every == 0
        if evaluated:
            student.eval()
            results, ranks = evaluator.evaluate(student)
            student.train()
            if evaluator.nonfinite_scores:
                raise RunDiverged(f"epoch {epoch}: the model scores {evaluator.nonfinite_scores} "
                                  "evaluation candidates as nan or inf; lower --lr")
            improved = selection.update(epoch, results)
            if improved:
                progress.best_state = copy.deepcopy(student.state_dict())
                progress.best_ranks = {k: v.cpu().numpy() for k, v in ranks.items()}
                if on_improved is not None:
                    student.eval()
                    on_improved(epoch, results, student)
                    student.train()
            record.update(results)
            record["improved"] = improved
        synchronize(device)
        t3 = time.perf_counter()
        record.update(sample_s=t1 - t0, train_s=t2 - t1, eval_s=t3 - t2)
        if schedule:
            record["schedule"] = schedule
        progress.times.append(t3 - t0)
        logger.epoch(record, cfg.max_epoch)
        epochs.total = latest_stop(cfg, selection)
        epochs.set_postfix({"loss": f"{record['loss']:.2f}",
                            f"valid {evaluator.headline}": f"{record.get('valid', {}).get(evaluator.headline, float('nan')):.4f}"})
        stop = evaluated and selection.should_stop
        saved = None
        if resume is not None and not stop and epoch + 1 < cfg.max_epoch and resume.due():
            progress.pieces[-1]["last_epoch"] = epoch
            start = time.perf_counter()
            resume.save(training_state(epoch, student, method, steps, generator, selection, logger, progress,
                                       on_improved))
            resume.last_save_s = time.perf_counter() - start      # gathering the state too, for --resume_every auto
            piece = progress.pieces[-1]            # what saving cost this piece, in its final record
            piece["saves"] = piece.get("saves", 0) + 1
            piece["save_s"] = piece.get("save_s", 0.0) + resume.last_save_s
            if hasattr(on_improved, "saved"):
                on_improved.saved()
            saved = resume.path
        notify(record, saved)
        if stop:
            break
    epochs.close()
    steps.close()
    progress.pieces[-1]["last_epoch"] = last_epoch
    best_state = progress.best_state
    if best_state is None:
        raise ValueError(f"no epoch was evaluated (es_epoch {cfg.es_epoch}, max_epoch {cfg.max_epoch}): "
                         "nothing to select")
    times = progress.times
    final = {"checkpoint_epoch": selection.last_improved_epoch,
             "best_epoch": {str(k): v for k, v in selection.best_epoch.items()},
             "epochs_run": len(times), "stopped": "early_stop" if selection.should_stop else "max_epoch",
             "mean_epoch_s": float(np.mean(times)) if times else 0.0,
             "total_s": float(np.sum(times)),
             "peak_rss_mb": peak_rss_mb(),
             "pieces": progress.pieces}
    final.update(selection.selected())
    return TrainResult(best_state, final, progress.best_ranks or {})
