"""Command-line flags shared by every entry script, with the original release's names and defaults.

Each default is declared once, here or beside the method that owns the flag; every flag has a help
text so ``--help`` shows its default.
"""
import argparse
import math
import re

import torch

from Models.CML import WARP_NEGATIVES as CML_NEGATIVES
from Models.zoo import BASE_MODELS
from Utils.errors import InputError
from Utils.training.protocols import PROTOCOLS, add_protocol_flags, validate_protocol
from Utils.training.resume import resume_every_flag

# Training settings of a base model; recorded in checkpoint keys (a model's key says how it was trained).
TRAINING_DEFAULTS = {"lr": 1e-3, "reg": 1e-3, "batch_size": 1024, "num_ns": 1, "max_epoch": 1000,
                     "early_stop": 20, "es_epoch": 0}
TRAINING_FLAGS = ("batch_size", "num_ns", "max_epoch", "early_stop", "es_epoch")


def training_defaults(protocol="loo"):
    """The training settings of a base model trained with its defaults under ``protocol`` (a teacher
    trained on a run's behalf): TRAINING_DEFAULTS with the protocol's batch size and patience."""
    return dict(TRAINING_DEFAULTS, **{k: v for k, v in PROTOCOLS[protocol].items() if k in TRAINING_DEFAULTS})

# Where a user's run writes its logs (git-ignored); reference runs pass --log_path logs/ deliberately.
DEFAULT_LOG_PATH = "runs/"


def common_parser(description, dim=True):
    """The flags of the original scripts plus base model, device, seed and evaluation. ``dim=False``
    leaves out ``--dim`` (the distillation scripts derive the student's size from ``--percent``)."""
    d = TRAINING_DEFAULTS
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data and protocol")
    g.add_argument("--data_path", default="data/", help="folder holding one folder per dataset")
    g.add_argument("--dataset", default="citeULike", help="dataset folder name under --data_path")
    g.add_argument("--LOO_seed", type=int, default=0,
                   help="leave-one-out split seed; 0 uses the shipped split when the folder has one")
    g.add_argument("--min_user_inter", type=int, default=5, help="keep users with at least this many items")
    g.add_argument("--min_rating", type=float, default=None, help="keep interactions rated at least this")
    g.add_argument("--split_by", choices=["random", "time"], default="random",
                   help="hold out random items (paper) or the latest ones")
    g.add_argument("--num_candidates", type=int, default=499, help="sampled negatives per user for evaluation")
    g.add_argument("--eval", choices=["sampled", "full", "both"], default="sampled",
                   help="sampled: the paper's 499 negatives; full: all unobserved items (used for "
                        "selection too); both: sampled for selection, full reported beside")
    add_protocol_flags(g)
    g = p.add_argument_group("training")
    g.add_argument("--model", choices=list(BASE_MODELS), default="bpr",
                   help="base model of teacher and student: BPR-MF, NeuMF, LightGCN (with --reg 0: "
                        "LightGCN's own L2 replaces the weight decay) or CML (metric learning)")
    if dim:
        g.add_argument("--dim", type=int, default=None,
                       help="embedding size (None: the model's teacher size, 200 for bpr, 250 for neumf)")
    g.add_argument("--cml_negatives", type=int, default=CML_NEGATIVES,
                   help="CML only: negatives per training pair, the hinge on the closest weighted by its log rank "
                        "estimate (WARP, the CML release's); 1: one uniform negative, the plain hinge")
    g.add_argument("--lr", type=float, default=d["lr"], help="Adam learning rate")
    g.add_argument("--reg", type=float, default=d["reg"], help="Adam weight decay (coupled L2)")
    g.add_argument("--batch_size", type=int, default=d["batch_size"], help="training triples per batch")
    g.add_argument("--num_ns", type=int, default=d["num_ns"], help="negatives per training interaction")
    g.add_argument("--max_epoch", type=int, default=d["max_epoch"], help="most epochs to train")
    g.add_argument("--early_stop", type=int, default=d["early_stop"], help="patience, in evaluations")
    g.add_argument("--es_epoch", type=int, default=d["es_epoch"],
                   help="first epoch evaluated (and counted for early stopping)")
    g = p.add_argument_group("run")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    g.add_argument("--seed", type=int, default=0, help="seed of initialisation and all per-epoch sampling")
    g.add_argument("--num_threads", type=int, default=0, help="CPU threads (0 = torch's default)")
    g.add_argument("--flush_denormal", type=int, choices=[0, 1], default=1,
                   help="CPU only: 1 treats subnormal floats (below 1.2e-38) as zero, as GPUs' fast paths do; "
                        "on Intel CPUs each subnormal operand costs a microcode assist (DE's late dense epochs "
                        "ran 8x slower), and the logged numbers came out the same to the last digit "
                        "(docs/speed.md); 0 keeps IEEE subnormals")
    g.add_argument("--save_path", default="Saved_models/",
                   help="git-ignored folder for checkpoints, candidates and teacher ranking lists")
    g.add_argument("--log_path", default=DEFAULT_LOG_PATH,
                   help="logs go to <log_path>/<dataset>/<run name>.*; the committed reference logs "
                        "live in logs/ and are written only when a run names it")
    g.add_argument("--run_name", default=None, help="name of the log files (default from the method "
                                                     "and every flag that differs from its default)")
    g.add_argument("--quiet", action="store_true", help="do not echo the human log to stdout")
    g.add_argument("--resume_every", type=resume_every_flag, default="auto",
                   help="save the training state (<log_path>/<dataset>/<run>.resume.pt) at the end of an epoch at "
                        "most every this many seconds; auto: so that saving costs under 5%% of the training time; "
                        "0: every epoch. The same command continues an interrupted run")
    g.add_argument("--restart", action="store_true",
                   help="discard the saved training state of an interrupted run of this name and start over")
    return p


_POSITIVE = ("dim", "batch_size", "num_ns", "max_epoch", "early_stop", "num_candidates", "min_user_inter",
             "cml_negatives")


def check_finite(args):
    """Every float flag must be a finite number (nan or inf would train a meaningless model)."""
    for name, value in vars(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"--{name} must be a finite number, got {value}")


def validate(args):
    """Range checks; an out-of-range flag raises InputError naming it."""
    check_finite(args)
    for name in _POSITIVE:
        if getattr(args, name, None) is not None and getattr(args, name) < 1:
            raise InputError(f"--{name} must be at least 1, got {getattr(args, name)}")
    for name in ("lr",):
        if not getattr(args, name) > 0:
            raise InputError(f"--{name} must be positive, got {getattr(args, name)}")
    for name in ("reg", "es_epoch", "LOO_seed", "seed", "num_threads"):
        if getattr(args, name) < 0:
            raise InputError(f"--{name} must be non-negative, got {getattr(args, name)}")
    if args.min_user_inter < 3:
        raise InputError("--min_user_inter must be at least 3 (one test, one valid, one train item)")
    if args.es_epoch >= args.max_epoch:
        raise InputError(f"--es_epoch {args.es_epoch} must be below --max_epoch {args.max_epoch} (epochs 0.."
                         f"{args.max_epoch - 1} run; none would be evaluated, so none could be selected)")
    validate_protocol(args)
    if args.run_name is not None and not RUN_NAME.fullmatch(args.run_name):
        raise InputError(f"--run_name {args.run_name!r}: a plain file name of letters, digits and . _ - + = "
                         "(no folders; --log_path says where logs go)")


RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]*")
PAPER_CANDIDATES = 499


def protocol_notes(args):
    """Lines a run's log and stderr carry when its evaluation is not the paper's: too few candidates for
    the cut-offs to mean anything (a WARNING, also on stderr), or a protocol whose numbers the paper's must
    not be set beside (a NOTE)."""
    from Utils.training.evaluation import CUTOFFS
    if getattr(args, "split", "loo") != "loo":
        return [f"NOTE: full ranking of held-out sets ({args.split} split, protocol {args.protocol}), not the paper's "
                "protocol: no comparison with its numbers is printed"]
    notes = []
    if args.num_candidates + 1 <= max(CUTOFFS):
        trivial = [n for n in CUTOFFS if n >= args.num_candidates + 1]
        notes.append(f"WARNING: --num_candidates {args.num_candidates}: each held-out item is ranked among "
                     f"{args.num_candidates + 1} items, so H@{'/'.join(map(str, trivial))} = 1 by construction")
    if args.num_candidates != PAPER_CANDIDATES or args.eval == "full":
        notes.append(f"NOTE: not the paper's protocol ({PAPER_CANDIDATES} sampled candidates): no comparison "
                     "with its numbers is printed")
    return notes


def resolve_device(name):
    """'auto' -> cuda when available, else cpu; an unavailable device is an InputError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device {name!r} is not a device name (auto, cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine")
    if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise InputError(f"--device {name}: MPS is not available in this torch build or on this machine")
    if device.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"--device {name}: not supported (auto, cpu, cuda, cuda:N, mps)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise InputError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device
