"""Finding, training and loading the BPR teacher that the distillation scripts learn from."""
import os
import sys
from types import SimpleNamespace

import torch

from Models.BPR import BPR
from Utils.checkpoint import load_checkpoint
from Utils.errors import InputError
from Utils.experiment import split_key

TEACHER_DEFAULTS = {"dim": 200, "lr": 1e-3, "reg": 1e-3, "seed": 0}


def model_key(ctx, dim, lr, reg, seed):
    """Everything that determines a trained BPR model: data, split, dims, optimiser, seed."""
    return dict(split_key(ctx), model="BPR", dim=dim, lr=lr, reg=reg, seed=seed)


def checkpoint_file(folder, key):
    return os.path.join(folder, key["dataset"],
                        f"BPR_dim{key['dim']}_LOO{key['LOO_seed']}_seed{key['seed']}_lr{key['lr']:g}"
                        f"_reg{key['reg']:g}_{key['split']}.pt")


def add_teacher_flags(parser):
    g = parser.add_argument_group("teacher")
    g.add_argument("--teacher_path", default="Saved_models/",
                   help="folder searched for the teacher checkpoint (keyed by data, split, dim, lr, reg, "
                        "seed), or a checkpoint file")
    g.add_argument("--teacher_dim", type=int, default=TEACHER_DEFAULTS["dim"])
    g.add_argument("--teacher_seed", type=int, default=TEACHER_DEFAULTS["seed"])
    g.add_argument("--teacher_lr", type=float, default=TEACHER_DEFAULTS["lr"])
    g.add_argument("--teacher_reg", type=float, default=TEACHER_DEFAULTS["reg"])
    g.add_argument("--percent", type=float, default=0.1, help="student dim = int(teacher_dim * percent)")


def teacher_key(ctx):
    a = ctx.args
    return model_key(ctx, a.teacher_dim, a.teacher_lr, a.teacher_reg, a.teacher_seed)


def load_or_train_teacher(ctx):
    """The frozen teacher for this run's data and split; trained first (with the teacher defaults)
    when no checkpoint exists; refused when a given checkpoint's key does not match."""
    key = teacher_key(ctx)
    given_file = ctx.args.teacher_path.endswith(".pt")
    path = ctx.args.teacher_path if given_file else checkpoint_file(ctx.args.teacher_path, key)
    if not os.path.isfile(path):
        if given_file:
            raise InputError(f"--teacher_path {path}: no such checkpoint")
        print(f"no teacher checkpoint at {path}: training the teacher first "
              f"(dim {key['dim']}, lr {key['lr']:g}, reg {key['reg']:g}, seed {key['seed']})", file=sys.stderr)
        _train_teacher(ctx, key, path)
    stored = load_checkpoint(path, key)
    teacher = BPR(ctx.split.n_users, ctx.split.n_items, key["dim"])
    teacher.load_state_dict(stored["state"])
    teacher.to(ctx.device).requires_grad_(False)
    return teacher, path


def _train_teacher(ctx, key, path):
    from Models.method import Method
    from Utils.config import with_suffixes
    from Utils.experiment import Context, new_student, run
    teacher_args = SimpleNamespace(**dict(vars(ctx.args), dim=key["dim"], lr=key["lr"], reg=key["reg"],
                                          seed=key["seed"]))
    generator = torch.Generator(device=ctx.device)
    generator.manual_seed(key["seed"])
    torch.manual_seed(key["seed"])
    teacher_ctx = Context(teacher_args, ctx.split, ctx.evaluator, ctx.device, generator)
    name = with_suffixes("teacher", teacher_args)
    run(teacher_ctx, new_student(teacher_ctx, key["dim"]), Method(), name, "teacher",
        checkpoint_path=path, checkpoint_key=key)
    torch.manual_seed(ctx.args.seed)
