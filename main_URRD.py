"""Relaxed Ranking Distillation (user side, the original's URRD), its unsampled variant and IR-RRD.

    python main_URRD.py                        # URRD on CiteULike, split seed 0 (trains the teacher if missing)
    python main_URRD.py --sampling none        # unsampled ranking matching (WWW'23)
    python main_URRD.py --IR_reg_lmbda 5e-4    # IR-RRD: adds the item-side loss

Logs: runs/<dataset>/{URRD,URRD_unsampled_K<K>,IR_RRD}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).

RRD's flags and builder live here; DE-RRD (main_DERRD.py) uses them from here.
"""
from Models.method import Combined
from Models.RRD import IRRRD, URRD
from Models.zoo import BASE_MODELS
from Utils.errors import InputError, run_cli
from Utils.training.distill import DistillScript, MethodFlags, defaults_of
from Utils.training.ranking_lists import load_or_compute_lists
from Utils.training.teacher import teacher_key

URRD_D, IRRRD_D = defaults_of(URRD), defaults_of(IRRRD)
BEST_UNSAMPLED_K = 100  # default U_K of --sampling none: best valid H@5 of the K sweep (docs/results.md)


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


def fill_rrd(a):
    """--U_K None: the paper's K with --sampling paper, the sweep's best with none."""
    if a.U_K is None:
        a.U_K = URRD_D["K"] if a.sampling == "paper" else BEST_UNSAMPLED_K


# The original's weight for BPR-MF (and for every model without a published one); the DE-RRD paper's best
# for NeuMF (its Table 5: lambda_RRD around 0.1).
RRD_FLAGS = MethodFlags(add_rrd_flags, model_defaults={"URRD_lmbda": {"bpr": URRD_D["lmbda"], "neumf": 0.1}},
                        fill=fill_rrd)


def rrd_run_name(a):
    """(base name, flags it states): URRD, URRD_unsampled_K<K> or IR_RRD (item side at 5e-4)."""
    if a.IR_reg_lmbda == 5e-4 and a.sampling == "paper":
        return "IR_RRD", ("IR_reg_lmbda",)
    if a.sampling == "paper":
        return "URRD", ()
    return f"URRD_unsampled_K{a.U_K}", ("sampling", "U_K")


# flags that fit the method to a dataset of a few dozen items (the tests' planted data: 48 items)
SMALL_DATA = ("--list_len", "4", "--U_K", "2", "--U_L", "10", "--I_K", "2", "--I_L", "10")
SCRIPT = DistillScript(__doc__, (RRD_FLAGS,), build_rrd, rrd_run_name)
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
