"""Flags and builders of the distillation methods, and the DistillScript that every distillation entry
script (main_DE.py, main_URRD.py, main_DERRD.py, main_RD.py, main_CD.py) is."""
import os
import inspect
from dataclasses import dataclass
from typing import Callable

from Models.DE import DE
from Models.CD import CD
from Models.DCD import DCD
from Models.method import Combined
from Models.RD import RD
from Models.RRD import IRRRD, URRD
from Models.TD import FTD, HTD
from Models.zoo import BASE_MODELS, TEACHER_DIMS
from Utils.training.config import common_parser
from Utils.errors import InputError
from Utils.training.experiment import new_student, run, setup, split_key
from Utils.training.checkpoint import tensors_fingerprint
from Utils.training.ranking_lists import load_or_compute_lists
from Utils.training.run_names import run_name
from Utils.training.teacher import add_teacher_flags, load_or_train_teacher, teacher_key



def defaults_of(method_class):
    """{parameter: default} of a method's constructor: the one place each default is declared; the
    flags below read theirs from here."""
    parameters = inspect.signature(method_class.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


DE_D, URRD_D, IRRRD_D, RD_D, CD_D, DCD_D, FTD_D, HTD_D = map(defaults_of, (DE, URRD, IRRRD, RD, CD, DCD, FTD, HTD))
BEST_UNSAMPLED_K = 100  # default U_K of --sampling none: best valid H@5 of the K sweep (README)
# Weights whose default depends on the base model: the original's for BPR-MF (and for every model
# without published weights: LightGCN, also trained with BPR; CML, whose hinge loss has BPR's scale;
# the autoencoders), the DE-RRD paper's best for NeuMF (its Table 5: lambda_RRD around 0.1, lambda_DE
# around 1e-4).
MODEL_DEFAULTS = {"lmbda_DE": {"bpr": DE_D["lmbda"], "neumf": 1e-4},
                  "URRD_lmbda": {"bpr": URRD_D["lmbda"], "neumf": 0.1}}   # any other model: BPR-MF's


def model_default(flag, model):
    """The default of a base-model-dependent weight (BPR-MF's for a model without its own)."""
    return MODEL_DEFAULTS[flag].get(model, MODEL_DEFAULTS[flag]["bpr"])


def add_de_flags(parser):
    g = parser.add_argument_group("Distillation Experts")
    g.add_argument("--lmbda_DE", type=float, default=None, help="weight of the DE loss (None: 0.01 for bpr, "
                                                                 "1e-4 for neumf)")
    g.add_argument("--num_expert", type=int, default=DE_D["num_experts"], help="experts per side (1 = hint regression)")
    g.add_argument("--end_T", type=float, default=DE_D["end_T"], help="final Gumbel-softmax temperature")
    g.add_argument("--anneal_size", type=float, default=1e10,
                   help="kept for compatibility with the original command line; the schedule is "
                        "tau = max((end_T)^((epoch-1)/max_epoch), end_T)")
    g.add_argument("--selection", choices=["gumbel", "attention"], default=DE_D["selection"],
                   help="gumbel (paper) or attention (softmax weights, no noise or temperature)")
    g.add_argument("--skip_ratio", type=float, default=DE_D["skip_ratio"],
                   help="skip (entity, expert) pairs whose weight is below this times the entity's "
                        "largest weight (below float32 resolution); 0 computes every pair")


def add_rrd_flags(parser):
    g = parser.add_argument_group("Relaxed Ranking Distillation")
    g.add_argument("--URRD_lmbda", type=float, default=None, help="weight of the user-side RRD loss (None: "
                                                                    "1e-3 for bpr, 0.1 for neumf)")
    g.add_argument("--U_K", type=int, default=None,
                   help=f"interesting items per user ({URRD_D['K']} with --sampling paper, {BEST_UNSAMPLED_K} with none)")
    g.add_argument("--U_L", type=int, default=URRD_D["L"], help="uninteresting items per user")
    g.add_argument("--U_T", type=float, default=URRD_D["T"], help="temperature of the position weights exp(-p/T)")
    g.add_argument("--list_len", type=int, default=500, help="length of the teacher's ranking lists")
    g.add_argument("--sampling", choices=["paper", "none"], default=URRD_D["sampling"],
                   help="paper: sampled interesting/uninteresting items; none: the list's top K, "
                        "all other unobserved items in each normaliser (WWW'23)")
    g.add_argument("--IR_reg_lmbda", type=float, default=0.0, help="item-side RRD weight (5e-4 = IR-RRD)")
    g.add_argument("--I_K", type=int, default=IRRRD_D["K"], help="interesting users per item (IR-RRD)")
    g.add_argument("--I_L", type=int, default=IRRRD_D["L"], help="uninteresting users per item (IR-RRD)")
    g.add_argument("--I_T", type=float, default=IRRRD_D["T"], help="temperature of the item side's position weights")


def add_rd_flags(parser):
    g = parser.add_argument_group("Ranking Distillation (RD)")
    g.add_argument("--RD_lmbda", type=float, default=RD_D["lmbda"],
                   help="weight of the RD loss (no published default; see the README's grid)")
    g.add_argument("--RD_K", type=int, default=RD_D["K"], help="teacher's top-K items used as positives")
    g.add_argument("--RD_lambda_pos", type=float, default=RD_D["lambda_pos"], help="position weight exp(-r / lambda_pos)")
    g.add_argument("--RD_mu", type=float, default=RD_D["mu"], help="discrepancy weight tanh(mu (rhat - r))")
    g.add_argument("--RD_samples", type=int, default=RD_D["n_samples"], help="unobserved items drawn for the rank estimate")
    g.add_argument("--RD_dynamic_start", type=int, default=RD_D["dynamic_start"], help="first epoch using the discrepancy weight")


def add_cd_flags(parser):
    g = parser.add_argument_group("Collaborative Distillation (CD)")
    g.add_argument("--CD_lmbda", type=float, default=CD_D["lmbda"], help="weight of the CD loss")
    g.add_argument("--guide", choices=["teacher", "student"], default=CD_D["guide"],
                   help="whose ranking the items are drawn from (student: recomputed every epoch)")
    g.add_argument("--CD_N", type=int, default=3000, help="length of the guide's ranking drawn from")
    g.add_argument("--CD_n_d", type=int, default=CD_D["n_d"], help="items drawn per user and epoch")
    g.add_argument("--CD_T", type=float, default=CD_D["T"], help="rank-aware draws p(r) ~ exp(-r / (N T))")
    g.add_argument("--CD_soft_T", type=float, default=CD_D["soft_T"], help="soft labels sigmoid(teacher score / soft_T)")


def add_dcd_flags(parser):
    g = parser.add_argument_group("Dual Correction Distillation (DCD)")
    g.add_argument("--DCD_lmbda_U", type=float, default=DCD_D["lmbda_U"], help="weight of the user side (UCD)")
    g.add_argument("--DCD_lmbda_I", type=float, default=DCD_D["lmbda_I"], help="weight of the item side (ICD; 0: users only)")
    g.add_argument("--DCD_eps", type=float, default=DCD_D["eps"], help="sharpness of the weights tanh(eps (p_S - p_T))")
    g.add_argument("--DCD_p_n", type=int, default=DCD_D["p_n"], help="positions drawn per side and list")
    g.add_argument("--DCD_refresh", type=int, default=DCD_D["refresh"], help="the student re-ranks the lists every this many epochs")
    g.add_argument("--DCD_floor", type=float, default=DCD_D["floor"], help="added to every weight")
    g.add_argument("--DCD_list_len", type=int, default=500, help="length of the teacher's lists (both sides)")


def add_with_de_flag(parser):
    """--with_DE: add DE's term (its flags: --lmbda_DE, --num_expert, ...) to the method, as DE-RRD adds
    it to RRD."""
    parser.add_argument("--with_DE", action="store_true",
                        help="add Distillation Experts (lambda_DE L_DE, its flags) to this method's loss")


def maybe_with_de(build):
    """A builder that returns ``build``'s method, plus DE when --with_DE is given."""
    def build_maybe_with_de(ctx, teacher, teacher_path):
        method = build(ctx, teacher, teacher_path)
        return Combined([build_de(ctx, teacher, teacher_path), method]) if ctx.args.with_DE else method
    return build_maybe_with_de


def build_dcd(ctx, teacher, teacher_path):
    a = ctx.args
    positive_flags(a, ("DCD_p_n", "DCD_refresh", "DCD_list_len"), ("DCD_eps", "DCD_floor"))
    if a.DCD_p_n > a.DCD_list_len or a.DCD_list_len >= ctx.split.n_items:
        raise InputError(f"--DCD_p_n ({a.DCD_p_n}) <= --DCD_list_len ({a.DCD_list_len}) < number of items "
                         f"({ctx.split.n_items}) must hold")
    if a.DCD_lmbda_I and not BASE_MODELS[a.model].dot_product:
        raise InputError("--DCD_lmbda_I needs a dot-product base model (--model bpr); use --DCD_lmbda_I 0")
    key = teacher_key(ctx)
    user_lists = load_or_compute_lists(teacher, key, teacher_path, ctx.split, "user", a.DCD_list_len, ctx.device)
    item_lists = None
    if a.DCD_lmbda_I:
        if a.DCD_list_len >= ctx.split.n_users:
            raise InputError(f"--DCD_list_len {a.DCD_list_len} must be below the number of users ({ctx.split.n_users})")
        item_lists = load_or_compute_lists(teacher, key, teacher_path, ctx.split, "item", a.DCD_list_len, ctx.device)
    return DCD(user_lists, item_lists, ctx.generator, a.DCD_lmbda_U, a.DCD_lmbda_I, a.DCD_eps, a.DCD_p_n,
               a.DCD_refresh, a.DCD_floor)


def add_td_flags(parser):
    g = parser.add_argument_group("Topology Distillation (TD)")
    g.add_argument("--TD_lmbda", type=float, default=FTD_D["lmbda"], help="weight of the topology loss")
    g.add_argument("--variant", choices=["ftd", "htd"], default="ftd",
                   help="ftd: full topology of the batch's entities; htd: within and between the groups "
                        "of a DE module (its flags: --num_expert, --end_T, --skip_ratio)")
    g.add_argument("--HTD_alpha", type=float, default=HTD_D["alpha"], help="HTD: weight of topology vs reconstruction")


def build_td(ctx, teacher, teacher_path=None):
    a = ctx.args
    if a.variant == "ftd":
        return FTD(teacher, a.TD_lmbda)
    if not 0 <= a.HTD_alpha <= 1:
        raise InputError(f"--HTD_alpha must be in [0, 1], got {a.HTD_alpha}")
    a.lmbda_DE = 1.0                     # HTD weighs its reconstruction itself: (1 - alpha) lambda_TD
    return HTD(teacher, build_de(ctx, teacher), a.TD_lmbda, a.HTD_alpha)


def positive_flags(a, ints=(), floats=()):
    for flag in ints:
        if getattr(a, flag) < 1:
            raise InputError(f"--{flag} must be at least 1, got {getattr(a, flag)}")
    for flag in floats:
        if not getattr(a, flag) > 0:
            raise InputError(f"--{flag} must be positive, got {getattr(a, flag)}")


def build_rd(ctx, teacher, teacher_path):
    a = ctx.args
    positive_flags(a, ("RD_K", "RD_samples"), ("RD_lambda_pos",))
    if a.RD_K >= ctx.split.n_items:
        raise InputError(f"--RD_K {a.RD_K} must be below the number of items ({ctx.split.n_items})")
    lists = load_or_compute_lists(teacher, teacher_key(ctx), teacher_path, ctx.split, "user", a.RD_K, ctx.device)
    return RD(lists, ctx.split, ctx.generator, a.RD_lmbda, a.RD_K, a.RD_lambda_pos, a.RD_mu, a.RD_samples,
              a.RD_dynamic_start)


def build_cd(ctx, teacher, teacher_path):
    a = ctx.args
    positive_flags(a, ("CD_N", "CD_n_d"), ("CD_T", "CD_soft_T"))
    if a.CD_n_d > a.CD_N or a.CD_N >= ctx.split.n_items:
        raise InputError(f"--CD_n_d ({a.CD_n_d}) <= --CD_N ({a.CD_N}) < number of items ({ctx.split.n_items}) "
                         "must hold")
    lists = load_or_compute_lists(teacher, teacher_key(ctx), teacher_path, ctx.split, "user", a.CD_N, ctx.device)
    return CD(teacher, lists, ctx.split, ctx.generator, a.CD_lmbda, a.CD_n_d, a.CD_T, a.CD_soft_T, a.guide)


def build_de(ctx, teacher, teacher_path=None):
    a = ctx.args
    if a.num_expert < 1:
        raise InputError(f"--num_expert must be at least 1, got {a.num_expert}")
    if not 0 < a.end_T <= 1:
        raise InputError(f"--end_T must be in (0, 1], got {a.end_T}")
    d_s = BASE_MODELS[a.model].representation_size(a.dim)
    return DE(teacher, d_s, ctx.generator, a.lmbda_DE, a.num_expert, end_T=a.end_T, max_epoch=a.max_epoch,
              selection=a.selection, skip_ratio=a.skip_ratio)


def build_rrd(ctx, teacher, teacher_path):
    a = ctx.args
    for flag in ("U_K", "U_L", "list_len", "I_K", "I_L"):
        if getattr(a, flag) < 1:
            raise InputError(f"--{flag} must be at least 1, got {getattr(a, flag)}")
    for flag in ("U_T", "I_T"):
        if not getattr(a, flag) > 0:
            raise InputError(f"--{flag} must be positive, got {getattr(a, flag)}")
    if a.U_K > a.list_len or a.I_K > a.list_len:
        raise InputError(f"--U_K and --I_K must not exceed --list_len ({a.list_len})")
    if a.list_len >= ctx.split.n_items:
        raise InputError(f"--list_len {a.list_len} must be below the number of items ({ctx.split.n_items})")
    if (a.IR_reg_lmbda or a.sampling != "paper") and not BASE_MODELS[a.model].dot_product:
        raise InputError("--sampling none and --IR_reg_lmbda need a dot-product base model (--model bpr)")
    if a.IR_reg_lmbda and a.sampling != "paper":
        raise InputError("--IR_reg_lmbda needs --sampling paper (it uses the sampled user-side items)")
    key = teacher_key(ctx)
    lists = load_or_compute_lists(teacher, key, teacher_path, ctx.split, "user", a.list_len, ctx.device)
    urrd = URRD(lists, ctx.split, ctx.generator, a.URRD_lmbda, a.U_K, a.U_L, a.U_T, a.sampling)
    if not a.IR_reg_lmbda:
        return urrd
    item_lists = load_or_compute_lists(teacher, key, teacher_path, ctx.split, "item", a.list_len, ctx.device)
    return Combined([urrd, IRRRD(item_lists, ctx.split, ctx.generator, urrd, a.IR_reg_lmbda, a.I_K, a.I_L, a.I_T)])


def rrd_run_name(a):
    """(base name, flags it states): URRD, URRD_unsampled_K<K> or IR_RRD (item side at 5e-4)."""
    if a.IR_reg_lmbda == 5e-4 and a.sampling == "paper":
        return "IR_RRD", ("IR_reg_lmbda",)
    if a.sampling == "paper":
        return "URRD", ()
    return f"URRD_unsampled_K{a.U_K}", ("sampling", "U_K")


@dataclass(frozen=True)
class DistillScript:
    """What a distillation entry script declares: its flags, its method's builder (one signature,
    ``build(ctx, teacher, teacher_path) -> Method``), its run-name rule and its row kind. ``main``
    parses common + teacher + method flags, loads (or trains) the teacher and trains the student.

    ``default_name(args)`` -> (base run name, flags the base name states); every other flag that
    differs from its default is appended (Utils.training.run_names)."""
    doc: str
    add_flags: tuple
    build: Callable
    default_name: Callable
    kind: str

    def parse(self, argv=None):
        """-> (parser, args with derived values filled in, the flags as given)."""
        parser = common_parser(self.doc.strip().splitlines()[0], dim=False)
        add_teacher_flags(parser)
        for add in self.add_flags:
            add(parser)
        args = parser.parse_args(argv)
        as_given = dict(vars(args))
        if args.teacher_dim is None:
            args.teacher_dim = TEACHER_DIMS[args.model]
        if not 0 < args.percent <= 1:
            raise InputError(f"--percent must be in (0, 1], got {args.percent}")
        args.dim = int(args.teacher_dim * args.percent)
        if args.dim < 1:
            raise InputError(f"--teacher_dim {args.teacher_dim} x --percent {args.percent} gives a student "
                             "of dim 0")
        if getattr(args, "U_K", 0) is None:
            args.U_K = URRD_D["K"] if args.sampling == "paper" else BEST_UNSAMPLED_K
        for flag in MODEL_DEFAULTS:
            if hasattr(args, flag):
                if args.__dict__[flag] is None:
                    args.__dict__[flag] = model_default(flag, args.model)
                if as_given[flag] == model_default(flag, args.model):
                    as_given[flag] = None             # the model's default: not part of the run name
        return parser, args, as_given

    def planned_name(self, argv=None):
        """The run name ``main(argv)`` would log under."""
        parser, args, as_given = self.parse(argv)
        return args.run_name or run_name(parser, as_given, *self.default_name(args))

    def main(self, argv=None):
        parser, args, as_given = self.parse(argv)
        name = args.run_name or run_name(parser, as_given, *self.default_name(args))
        ctx = setup(args)
        teacher, teacher_path, teacher_lines = load_or_train_teacher(ctx)
        method = self.build(ctx, teacher, teacher_path)
        header = [f"Student Dim:: {args.dim}"] + teacher_lines + method.describe()
        key = dict(split_key(ctx), model=BASE_MODELS[args.model].name, dim=args.dim, method=method.name,
                   seed=args.seed)
        path = os.path.join(args.save_path, args.dataset, f"{name}.student.pt")   # the student alone
        return run(ctx, new_student(ctx, args.dim), method, name, self.kind, header=header,
                   checkpoint_path=path, checkpoint_key=key,
                   identity={"teacher": tensors_fingerprint(teacher.state_dict())})
