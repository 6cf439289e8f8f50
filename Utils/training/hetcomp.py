"""HetComp's pieces beside its method (Models/HetComp.py), in one place (docs/methods.md, HetComp): the
teachers, each found for the run's split (or trained first, recording its trajectory,
Utils/training/trajectory.py), its trajectory and final checkpoint loaded; the observed items ranked by
them; their ensemble evaluated on the run's protocol; and the run itself (``train_hetcomp``, what
main_HetComp.py calls with its flags).

A teacher is named by its family (``--model`` name: trained with the teacher defaults, the family's
teacher size under the run's protocol (Models/zoo.TEACHER_DIMS; kds: 400), seed 0, and ``FAMILY_TRAINING``;
looked for in --teacher_path under its
key) or given as a checkpoint file trained on this split, whose trajectory file lies beside it.
"""
import os
import sys
import time
from dataclasses import dataclass

import torch

from Models.HetComp import HetComp
from Models.zoo import BASE_MODELS, MODEL_OF_CLASS
from Utils.errors import InputError
from Utils.tensors.csr import build_csr, gather_rows
from Utils.training.checkpoint import check_key, load_checkpoint, read_checkpoint, tensors_fingerprint
from Utils.training.experiment import new_student, run, split_key
from Utils.training.teacher import (TEACHER_DEFAULTS, base_model_args, base_model_run_name, checkpoint_file,
                                    context_for, describe_teacher, load_frozen, model_key, teacher_dim,
                                    train_base_model)
from Utils.training.trajectory import load_trajectory, trajectory_file

FAMILIES = tuple(BASE_MODELS)   # the zoo is the paper's six families: MF, DL (NeuMF), GNN, ML (CML), AE, I-AE
FAMILY_TRAINING = {"lightgcn": {"reg": 0.0}}    # LightGCN's own L2 on the batch's layer-0 rows replaces weight decay
SPLIT_FIELDS = ("dataset", "split", "LOO_seed", "n_users", "n_items")


@dataclass
class TrajectoryTeacher:
    path: str                # its checkpoint
    key: dict
    model: torch.nn.Module   # the final (selected) checkpoint, frozen, on the run's device
    lists: torch.Tensor      # [N, U, K] its trajectory's lists, on the run's device
    epochs: list             # the epoch of each trajectory point
    valid: list              # the validation headline metric (H@5 on leave-one-out) at each point
    description: list        # how it was trained (Utils.training.teacher.describe_teacher), warnings included
    trained_s: float = None  # seconds spent training it in this run (None: found on disk)


def family_args(args, family):
    """(parser, flags) of ``main_teacher.py`` for a teacher of ``family``: the teacher defaults, this
    run's data, protocol and output flags, and its trajectory settings."""
    training = {"lr": TEACHER_DEFAULTS["lr"], "reg": TEACHER_DEFAULTS["reg"], **FAMILY_TRAINING.get(family, {})}
    return base_model_args(args, model=family, dim=teacher_dim(family, args.protocol), seed=TEACHER_DEFAULTS["seed"],
                           trajectory=args.trajectory, trajectory_K=args.trajectory_K,
                           trajectory_spacing=args.trajectory_spacing, save_path=args.teacher_path, **training)


def family_flags(family):
    """' --reg 0' for LightGCN: the flags that make main_teacher.py train the family's teacher."""
    return "".join(f" --{flag} {value:g}" for flag, value in FAMILY_TRAINING.get(family, {}).items())


def teacher_label(entry):
    """A teacher entry as it appears in a run name: the family, or the checkpoint's file stem."""
    return entry if entry in BASE_MODELS else os.path.splitext(os.path.basename(entry))[0]


def find_or_train(ctx, family):
    """-> (checkpoint path, key, seconds spent training or None) of the ``family`` teacher with a
    trajectory; trains it (announced) when the trajectory is missing."""
    parser, args = family_args(ctx.args, family)
    family_ctx = context_for(ctx, args)
    key = model_key(family_ctx, args.dim, args.lr, args.reg, args.seed, vars(args))
    path = checkpoint_file(args.save_path, key)
    if os.path.isfile(trajectory_file(path, args.trajectory, args.trajectory_K, args.trajectory_spacing)):
        return path, key, None
    print(f"HetComp: no {BASE_MODELS[family].name} teacher with a {args.trajectory}-point trajectory for this "
          f"split at {path}: training it first (dim {args.dim}, lr {args.lr:g}, reg {args.reg:g}, seed {args.seed}; "
          f"python main_teacher.py --model {family}{family_flags(family)} --trajectory {args.trajectory} would do the same)",
          file=sys.stderr)
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    train_base_model(family_ctx, base_model_run_name(parser, args), path)
    return path, key, time.perf_counter() - start


def given_checkpoint(ctx, path):
    """-> (path, key) of a teacher given as a checkpoint file; refused unless trained on this split
    and recorded with the run's trajectory settings."""
    a = ctx.args
    stored = read_checkpoint(path)
    check_key(path, stored["key"], split_key(ctx), SPLIT_FIELDS)
    if not os.path.isfile(trajectory_file(path, a.trajectory, a.trajectory_K, a.trajectory_spacing)):
        family = MODEL_OF_CLASS.get(stored["key"].get("model"), "?")
        raise InputError(f"--teachers {path}: no trajectory beside it ({trajectory_file(path, a.trajectory, a.trajectory_K, a.trajectory_spacing)}); "
                         f"train it with main_teacher.py --model {family} --trajectory {a.trajectory} "
                         f"--trajectory_K {a.trajectory_K} and its other settings")
    return path, stored["key"]


def load_teachers(ctx, entries):
    """The run's teachers, in the order given -> [TrajectoryTeacher]; missing family teachers are
    trained first. Global random state is reseeded afterwards, so the student starts the same
    whether or not a teacher was trained."""
    a = ctx.args
    if len(set(entries)) != len(entries):
        raise InputError(f"--teachers names a teacher twice: {' '.join(entries)}")
    teachers = []
    for entry in entries:
        trained_s = None
        if entry in BASE_MODELS:
            path, key, trained_s = find_or_train(ctx, entry)
        elif os.path.isfile(entry):
            path, key = given_checkpoint(ctx, entry)
        else:
            raise InputError(f"--teachers {entry}: neither a base model ({', '.join(BASE_MODELS)}) nor a checkpoint file")
        stored = load_checkpoint(path, key)
        trajectory = load_trajectory(trajectory_file(path, a.trajectory, a.trajectory_K, a.trajectory_spacing), key,
                                     a.trajectory, a.trajectory_K, a.trajectory_spacing)
        model = load_frozen(stored, ctx.split, ctx.device)
        teachers.append(TrajectoryTeacher(path, key, model, trajectory["items"].to(ctx.device), trajectory["epochs"],
                                          trajectory[f"valid_{ctx.evaluator.headline}"],
                                          describe_teacher(path, stored, a.protocol), trained_s))
    torch.manual_seed(a.seed)
    return teachers


@torch.no_grad()
def observed_in_teacher_order(models, split, length, temperature, device, chunk=512):
    """Each user's observed (train) items ordered by the teachers' ensemble, the first ``length``:
    importance SUM_t exp(-r_t / T), r_t the 0-based position of the item among the user's observed
    items by teacher t's score; ties to the lower item id. -> [U, length] int64, -1 past a user's count."""
    pointer, observed = build_csr(split.train_users, split.train_items, split.n_users, device)
    counts = pointer[1:] - pointer[:-1]
    owner = torch.repeat_interleave(torch.arange(split.n_users, device=device), counts)
    by_item = torch.argsort(observed, stable=True)
    by_item = by_item[torch.argsort(owner[by_item], stable=True)]             # per user, ascending item id
    owner, observed = owner[by_item], observed[by_item]
    position = torch.arange(len(observed), device=device) - pointer[owner]
    importance = torch.zeros(len(observed), dtype=torch.float64, device=device)
    for model in models:
        scores = torch.empty(len(observed), device=device)
        for start in range(0, split.n_users, chunk):            # score the observed pairs, not every item
            stop = min(start + chunk, split.n_users)
            lo, hi = pointer[start], pointer[stop]
            row, slot = owner[lo:hi] - start, position[lo:hi]
            padded = torch.zeros((stop - start, int(counts[start:stop].max())), dtype=torch.int64, device=device)
            padded[row, slot] = observed[lo:hi]
            scores[lo:hi] = model.score(torch.arange(start, stop, device=device), padded)[row, slot]
        order = torch.argsort(-scores, stable=True)
        order = order[torch.argsort(owner[order], stable=True)]
        rank = torch.empty_like(position)
        rank[order] = position
        importance += torch.exp(-rank.double() / temperature)
    order = torch.argsort(-importance, stable=True)
    order = order[torch.argsort(owner[order], stable=True)]
    out = torch.full((split.n_users, length), -1, dtype=torch.int64, device=device)
    keep = position < length
    out[owner[keep], position[keep]] = observed[order][keep]
    return out


class RankEnsemble:
    """The teachers' ensemble as something the Evaluator can rank with: a candidate's score is
    SUM_t exp(-r_t / T), r_t the number of the user's unobserved items teacher t scores strictly
    higher (the importance the student's lists come from, here over every item rather than the
    top K of each list)."""

    def __init__(self, models, split, temperature, device):
        self.models, self.temperature, self.n_items = models, temperature, split.n_items
        self.pointer, self.observed = build_csr(split.train_users, split.train_items, split.n_users, device)

    @torch.no_grad()
    def _importance(self, users, pick):
        """SUM_t exp(-r_t / T) of the items ``pick(scores [B, n_items]) -> [B, C]`` selects."""
        owner, observed = gather_rows(self.pointer, self.observed, users)
        total = 0.0
        for model in self.models:
            scores = model.score_all(users)
            scores[owner, observed] = -torch.inf
            ascending = scores.sort(1).values
            ahead = self.n_items - torch.searchsorted(ascending, pick(scores).contiguous(), right=True)
            total = total + torch.exp(-ahead.double() / self.temperature)
        return total

    def score_candidates(self, users, scorer):
        """The sampled protocol's candidates [B, C]."""
        return self._importance(users, lambda scores: scores.gather(1, scorer.items))

    def score_all(self, users):
        """Every item [B, n_items] (the full-ranking protocols; the evaluator masks the observed ones)."""
        return self._importance(users, lambda scores: scores)


def train_hetcomp(ctx, name):
    """HetComp on ``ctx`` (its args: main_HetComp.py's flags) under the run name ``name``: load or train the
    teachers with their trajectories, evaluate them and their ensemble into the log's header, build the
    observed order and the method, train the student. -> TrainResult."""
    args = ctx.args
    if args.trajectory_K >= ctx.split.n_items:
        raise InputError(f"--trajectory_K {args.trajectory_K} must be below the number of items ({ctx.split.n_items})")
    start = time.perf_counter()
    teachers = load_teachers(ctx, args.teachers)
    teachers_s = time.perf_counter() - start
    models = [t.model for t in teachers]
    start = time.perf_counter()
    header = [f"Student Dim:: {args.dim}"]
    m = ctx.evaluator.headline
    for t in teachers:
        results, _ = ctx.evaluator.evaluate(t.model)
        header += t.description + [f"    lr {t.key['lr']:g}, reg {t.key['reg']:g}: valid {m} {results['valid'][m]:.4f}, "
                                   f"test {m} {results['test'][m]:.4f}; trajectory epochs {t.epochs}, valid {m} "
                                   f"{[round(v, 4) for v in t.valid]}"]
        for line in t.description[1:]:
            print(line, file=sys.stderr)
    ensemble, _ = ctx.evaluator.evaluate(RankEnsemble(models, ctx.split, args.ensemble_T, ctx.device))
    header.append(f"Ensemble of the final checkpoints:: valid {m} {ensemble['valid'][m]:.4f}, "
                  f"test {m} {ensemble['test'][m]:.4f}")
    observed = observed_in_teacher_order(models, ctx.split, args.observed, args.ensemble_T, ctx.device)
    student = new_student(ctx, args.dim)
    method = HetComp([t.lists for t in teachers], observed, ctx.split, student, args.HetComp_lmbda,
                     args.HetComp_lmbda_final, args.HetComp_K, args.final_top, args.final_sub, args.every, args.alpha,
                     args.alpha_decay, args.ndcg_K, args.ensemble_T, args.ndcg_T, bool(args.HetComp_base))
    setup_s = time.perf_counter() - start
    trained = [f"{t.key['model']} {t.trained_s:.0f} s" for t in teachers if t.trained_s is not None]
    header += method.describe() + [f"Stages:: teachers {teachers_s:.0f} s (trained here: {', '.join(trained) or 'none'}), "
                                   f"ensemble and lists {setup_s:.0f} s"]
    key = dict(split_key(ctx), model=BASE_MODELS[args.model].name, dim=args.dim, method=method.name, seed=args.seed)
    result = run(ctx, student, method, name, header=header,
                 checkpoint_path=os.path.join(args.save_path, args.dataset, f"{name}.student.pt"), checkpoint_key=key,
                 identity={"teachers": tensors_fingerprint({f"{i}": t.lists for i, t in enumerate(teachers)})})
    print(f"HetComp stages: teachers {teachers_s:.0f} s, ensemble and lists {setup_s:.0f} s, student "
          f"{result.final['total_s']:.0f} s", file=sys.stderr)
    return result
