"""The BPR base models of an entry script: training one (``main_teacher.py``), and finding, training
and loading the frozen teacher that the distillation scripts learn from.

A model's checkpoint key records its data and split, its size, optimiser and seed, and how long and
in what batches it was trained; its file name says the same. A distillation script looks for the
teacher trained with the teacher's own settings (``--teacher_dim/lr/reg/seed`` and the default
training length), trains it with exactly those settings when it is missing, whatever the script's
own ``--max_epoch`` or ``--batch_size``, and announces a teacher given as a file that was trained
otherwise or stopped before converging.
"""
import argparse
import hashlib
import json
import os
import sys

import torch

from Models.method import Method
from Models.NeuMF import PARTS
from Models.zoo import BASE_MODELS, MODEL_OF_CLASS, TEACHER_DIMS, build_model, on_device
from Utils.training.trajectory import SPACINGS, TrajectoryRecorder, trajectory_file
from Utils.training.checkpoint import check_key, load_checkpoint, read_checkpoint
from Utils.training.config import CML_NEGATIVES, TRAINING_DEFAULTS, TRAINING_FLAGS, common_parser, training_defaults
from Utils.training.protocols import apply_protocol, protocol_default
from Utils.errors import InputError
from Utils.training.experiment import Context, new_student, run, split_key
from Utils.training.run_names import format_value, run_name

TEACHER_DEFAULTS = {"lr": TRAINING_DEFAULTS["lr"], "reg": TRAINING_DEFAULTS["reg"], "seed": 0}   # dim: TEACHER_DIMS
IDENTITY = ("dataset", "split", "LOO_seed", "n_users", "n_items", "model", "dim", "lr", "reg", "seed")
# flags a teacher trained for a distillation run takes from that run (data, protocol, where files go)
SHARED_WITH_TEACHER = ("model", "data_path", "dataset", "LOO_seed", "min_user_inter", "min_rating", "split_by",
                       "num_candidates", "eval", "device", "num_threads", "flush_denormal", "save_path", "log_path", "quiet",
                       "resume_every", "restart", "protocol", "split", "ratios", "order", "drop_unseen", "cutoffs",
                       "mask_heldout", "select", "eval_every", "cml_negatives")


def model_key(ctx, dim, lr, reg, seed, training):
    """Everything that determines a trained base model: data, split, model and size, optimiser, seed,
    training length and batches."""
    return dict(split_key(ctx), model=BASE_MODELS[ctx.args.model].name, dim=dim, lr=lr, reg=reg, seed=seed,
                **{f: training[f] for f in TRAINING_FLAGS},
                **({"cml_negatives": ctx.args.cml_negatives} if ctx.args.model == "cml" else {}),
                **neumf_fields(ctx.args))


def neumf_fields(args):
    """The key fields of a NeuMF trained as one part alone or from pretrained parts ({} for the plain
    NeuMF, so its keys are those it always had)."""
    if args.model != "neumf":
        return {}
    fields = {}
    if getattr(args, "neumf_part", "both") != "both":
        fields["neumf_part"] = args.neumf_part
    if getattr(args, "neumf_pretrain", 0):
        fields["neumf_pretrain"] = 1
    return fields


def checkpoint_file(folder, key):
    """``<folder>/<dataset>/<model>_dim.._LOO.._seed.._lr.._reg.._<split>[_<changed training flags>].pt``."""
    changed = "".join(f"_{f}{format_value(key[f])}" for f in TRAINING_FLAGS if key[f] != TRAINING_DEFAULTS[f])
    if key.get("cml_negatives", CML_NEGATIVES) != CML_NEGATIVES:
        changed += f"_cml_negatives{key['cml_negatives']}"
    if "neumf_part" in key:
        changed += f"_{key['neumf_part']}"
    if key.get("neumf_pretrain"):
        changed += "_pretrained"
    if "selection" in key:              # a held-out split's selection rule (Utils.training.experiment.split_key)
        changed += "_select" + hashlib.sha256(json.dumps(key["selection"], sort_keys=True).encode()).hexdigest()[:8]
    return os.path.join(folder, key["dataset"],
                        f"{key['model']}_dim{key['dim']}_LOO{key['LOO_seed']}_seed{key['seed']}_lr{key['lr']:g}"
                        f"_reg{key['reg']:g}_{key['split']}{changed}.pt")


def base_model_parser(description):
    """The flags of ``main_teacher.py``."""
    parser = common_parser(description)
    parser.add_argument("--save", type=int, default=1, choices=[0, 1], help="save the best checkpoint")
    g = parser.add_argument_group("NeuMF's parts (the NeuMF paper's pretraining)")
    g.add_argument("--neumf_part", choices=PARTS, default="both",
                   help="NeuMF only: train the GMF or the MLP part alone (the NeuMF paper's GMF and MLP models)")
    g.add_argument("--neumf_pretrain", type=int, choices=[0, 1], default=0,
                   help="NeuMF only: 1 starts from a GMF and an MLP part trained with this run's settings (each "
                        "trained first when its checkpoint is missing), combined with alpha 0.5 as the NeuMF "
                        "paper's release does; 0: random initialisation (the DE-RRD paper says nothing of "
                        "pretraining)")
    g = parser.add_argument_group("trajectory (HetComp's teachers)")
    g.add_argument("--trajectory", type=int, default=0,
                   help="also keep the ranking (top --trajectory_K items per user, with scores) at this many "
                        "points along training, beside the checkpoint (0: none); see Utils/training/trajectory.py")
    g.add_argument("--trajectory_K", type=int, default=100, help="items per user kept at each trajectory point")
    g.add_argument("--trajectory_spacing", choices=SPACINGS, default="epochs",
                   help="epochs: the best model so far at epochs k/N of the selected one; gain: the first to reach "
                        "k/N of the validation gain")
    return parser


def teacher_dim(model, protocol="loo"):
    """The teacher's size of ``model`` under ``protocol`` (kds: 400 for every model; else the paper's)."""
    return protocol_default(protocol, "teacher_dim", TEACHER_DIMS[model])


def resolve_dim(args):
    """--dim None -> the model's teacher size under the run's protocol."""
    if args.dim is None:
        args.dim = teacher_dim(args.model, args.protocol)
    return args


def size_label(model, dim, protocol="loo"):
    """'teacher' / 'student' for the model's teacher size under ``protocol`` and its student's (the
    protocol's --percent of it: a tenth, or kds's 20 of 400), else None."""
    teacher = teacher_dim(model, protocol)
    return {teacher: "teacher", int(teacher * protocol_default(protocol, "percent", 0.1)): "student"}.get(dim)


def base_model_run_name(parser, args):
    base = size_label(args.model, args.dim, args.protocol) or f"{BASE_MODELS[args.model].name}_dim{args.dim}"
    if args.model != "bpr" and base.startswith(BASE_MODELS[args.model].name):
        base = base[len(BASE_MODELS[args.model].name) + 1:]              # the prefix comes from run_name
    return args.run_name or run_name(parser, vars(args), base, consumed=("dim",))


def train_base_model(ctx, name, checkpoint_path):
    """Train a base model with ``ctx.args`` (dim, lr, reg, seed, training flags): the function behind
    ``main_teacher.py`` and behind every automatically trained teacher; with ``--trajectory N`` its
    ranking at N points along training is kept beside the checkpoint. -> TrainResult."""
    a = ctx.args
    key = model_key(ctx, a.dim, a.lr, a.reg, a.seed, vars(a))
    header = []
    if a.model != "neumf" and (getattr(a, "neumf_part", "both") != "both" or getattr(a, "neumf_pretrain", 0)):
        raise InputError(f"--neumf_part and --neumf_pretrain are NeuMF's (--model neumf), not {a.model}'s")
    if getattr(a, "neumf_pretrain", 0):
        parts, header = pretrained_parts(ctx, checkpoint_path)
        torch.manual_seed(a.seed)                     # the same start whether the parts were trained or found
        model = new_student(ctx, a.dim).load_parts(*parts)
    else:
        model = new_student(ctx, a.dim)
    params = sum(p.numel() for p in model.parameters())
    recorder = None
    if a.trajectory:
        if a.trajectory < 1 or a.trajectory_K < 1 or not checkpoint_path:
            raise InputError("--trajectory N needs N >= 1, --trajectory_K >= 1 and a saved checkpoint (--save 1)")
        recorder = TrajectoryRecorder(ctx.split, a.trajectory, a.trajectory_K, ctx.device,
                                      f"{os.path.splitext(checkpoint_path)[0]}.snapshots", a.trajectory_spacing,
                                      ctx.evaluator.headline)
    part = "" if getattr(a, "neumf_part", "both") == "both" else f" ({a.neumf_part.upper()} part alone)"
    result = run(ctx, model, Method(), name, header=[f"{model.name}{part} dim {a.dim}: {params} parameters", *header],
                 checkpoint_path=checkpoint_path, checkpoint_key=key, on_improved=recorder)
    if recorder is not None:
        path = trajectory_file(checkpoint_path, a.trajectory, a.trajectory_K, a.trajectory_spacing)
        state = recorder.save(path, key, model)
        print(f"saved {path} (epochs {state['epochs']})", file=sys.stderr)
    return result


def pretrained_parts(ctx, checkpoint_path):
    """The GMF and the MLP part for a NeuMF run with --neumf_pretrain 1 -> ([gmf, mlp], log lines): each
    with the run's own flags (size, optimiser, seed, training), found in --save_path or trained first."""
    a = ctx.args
    if a.model != "neumf" or a.neumf_part != "both":
        raise InputError("--neumf_pretrain 1 needs --model neumf and --neumf_part both")
    if not checkpoint_path:
        raise InputError("--neumf_pretrain 1 needs --save 1 (the parts are saved beside the model)")
    parts, lines = [], []
    for part in ("gmf", "mlp"):
        args = argparse.Namespace(**dict(vars(a), neumf_part=part, neumf_pretrain=0, trajectory=0, run_name=None))
        part_ctx = context_for(ctx, args)
        key = model_key(part_ctx, a.dim, a.lr, a.reg, a.seed, vars(args))
        path = checkpoint_file(a.save_path, key)
        if not os.path.isfile(path):
            print(f"no {part.upper()} part at {path}: training it first (the run's settings)", file=sys.stderr)
            torch.manual_seed(a.seed)
            train_base_model(part_ctx, base_model_run_name(base_model_parser("part"), args), path)
        stored = load_checkpoint(path, key)
        lines.append(f"Pretrained {part.upper()} part: {path} (epoch {stored.get('epoch')}, valid "
                     f"{stored.get('valid', {})})")
        parts.append(load_frozen(stored, ctx.split, ctx.device))
    return parts, lines


def add_teacher_flags(parser):
    g = parser.add_argument_group("teacher")
    g.add_argument("--teacher_path", default="Saved_models/",
                   help="folder searched for the teacher checkpoint (keyed by data, split, dim, lr, reg, "
                        "seed and training length), or a checkpoint file")
    g.add_argument("--teacher_dim", type=int, default=None,
                   help="teacher embedding size (None: 200 for bpr, 250 for neumf)")
    g.add_argument("--teacher_seed", type=int, default=TEACHER_DEFAULTS["seed"], help="teacher training seed")
    g.add_argument("--teacher_lr", type=float, default=TEACHER_DEFAULTS["lr"], help="teacher learning rate")
    g.add_argument("--teacher_reg", type=float, default=TEACHER_DEFAULTS["reg"], help="teacher weight decay")
    g.add_argument("--percent", type=float, default=0.1, help="student dim = int(teacher_dim * percent)")
    g.add_argument("--teacher_threads", type=int, default=0,
                   help="CPU threads for training a missing teacher (0 = the run's --num_threads), e.g. 1 "
                        "so it equals a teacher log made on one thread while the student uses two")


def teacher_key(ctx):
    """The key of the teacher a distillation run wants: its teacher flags, the default training."""
    a = ctx.args
    return model_key(ctx, a.teacher_dim, a.teacher_lr, a.teacher_reg, a.teacher_seed, training_defaults(a.protocol))


def base_model_args(args, **settings):
    """(parser, flags) of ``main_teacher.py`` for a model trained on behalf of a run: its defaults, the
    run's data, protocol and output flags, then ``settings``; never the run's training length."""
    parser = base_model_parser("teacher")
    values = vars(apply_protocol(parser, ["--protocol", args.protocol]))
    values.update({f: getattr(args, f) for f in SHARED_WITH_TEACHER})
    values.update(settings)
    return parser, argparse.Namespace(**values)


def teacher_args(args):
    """The flags the automatic teacher is trained with: :func:`base_model_args` with the teacher flags."""
    return base_model_args(args, dim=args.teacher_dim, lr=args.teacher_lr, reg=args.teacher_reg,
                           seed=args.teacher_seed)


def context_for(ctx, args):
    """A Context that trains with ``args`` on ``ctx``'s split and evaluator, its generator seeded with
    ``args.seed``."""
    generator = torch.Generator(device=ctx.device)
    generator.manual_seed(args.seed)
    return Context(args, ctx.split, ctx.evaluator, ctx.device, generator)


def load_frozen(stored, split, device):
    """The base model of a stored checkpoint, frozen, in eval mode, on ``device`` with its split attached."""
    key = stored["key"]
    model = build_model(MODEL_OF_CLASS[key["model"]], split, key["dim"], neumf_part=key.get("neumf_part"))
    model.load_state_dict(stored["state"])
    return on_device(model, split, device).requires_grad_(False).eval()


def describe_teacher(path, stored, protocol="loo"):
    """Lines that say how a teacher checkpoint was trained, with a warning where it differs from the
    teacher defaults (``protocol``'s) or stopped at its epoch limit rather than by early stopping."""
    key = stored["key"]
    defaults = training_defaults(protocol)
    lines = [f"Teacher:: {path} ({key['model']}, dim {key['dim']}, trained {stored.get('epochs_run', '?')} epochs, "
             f"stopped by {stored.get('stopped', 'unknown')})"]
    if key.get("neumf_part"):
        raise InputError(f"{path}: a NeuMF {key['neumf_part'].upper()} part alone, not a teacher")
    if key.get("neumf_pretrain"):
        lines.append("this teacher started from pretrained GMF and MLP parts (--neumf_pretrain 1)")
    changed = [f"{f} {key.get(f)} (default {defaults[f]})" for f in TRAINING_FLAGS if key.get(f) != defaults[f]]
    if changed:
        lines.append("WARNING: this teacher was trained with " + ", ".join(changed))
    if stored.get("stopped") == "max_epoch":
        lines.append("WARNING: this teacher stopped at its epoch limit, before early stopping: it may be undertrained")
    return lines


def load_or_train_teacher(ctx):
    """The frozen teacher for this run's data and split -> (teacher, checkpoint path, description lines).

    ``--teacher_path`` a file: used when its data, split, size, optimiser and seed match (refused
    otherwise), its training settings announced. A folder: the checkpoint with the teacher's key,
    trained first when missing."""
    given = ctx.args.teacher_path
    key = teacher_key(ctx)
    if os.path.isfile(given):
        stored = read_checkpoint(given)
        check_key(given, stored["key"], key, IDENTITY)
        path = given
    elif given.endswith(".pt") or os.path.exists(given) and not os.path.isdir(given):
        raise InputError(f"--teacher_path {given}: no such checkpoint file or folder")
    else:
        path = checkpoint_file(given, key)
        if not os.path.isfile(path):
            print(f"no teacher checkpoint at {path}: training the teacher first (dim {key['dim']}, "
                  f"lr {key['lr']:g}, reg {key['reg']:g}, seed {key['seed']}, the teacher's default "
                  "training)", file=sys.stderr)
            train_teacher(ctx, path)
        stored = load_checkpoint(path, key)
    lines = describe_teacher(path, stored, ctx.args.protocol)
    for text in lines[1:]:
        print(text, file=sys.stderr)
    return load_frozen(stored, ctx.split, ctx.device), path, lines


def train_teacher(ctx, path):
    """Train the teacher with :func:`teacher_args` by :func:`train_base_model`, on this run's split and
    evaluator; the global and run generators are reseeded afterwards so the student starts as if no
    teacher had been trained."""
    parser, args = teacher_args(ctx.args)
    run_threads = torch.get_num_threads()
    if ctx.args.teacher_threads:
        args.num_threads = ctx.args.teacher_threads
        torch.set_num_threads(args.num_threads)
    torch.manual_seed(args.seed)
    try:
        train_base_model(context_for(ctx, args), base_model_run_name(parser, args), path)
    finally:
        torch.set_num_threads(run_threads)
    torch.manual_seed(ctx.args.seed)
