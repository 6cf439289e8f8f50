"""Dual Correction Distillation (DCD, Lee & Kim, CIKM'21), a follow-up of RRD: ranking distillation
on the teacher's items (and users) that the student currently under- and over-estimates.

    python main_DCD.py                         # DCD on CiteULike, split seed 0 (trains the teacher if missing)
    python main_DCD.py --DCD_lmbda_I 0         # the user side only
    python main_DCD.py --with_DE               # DE + DCD (the DCD paper's setting builds on DE-RRD's)

Logs: runs/<dataset>/{DCD,DE_DCD}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from main_DE import DE_FLAGS, build_de
from Models.DCD import DCD
from Models.zoo import BASE_MODELS
from Utils.errors import InputError, run_cli
from Utils.training.distill import WITH_DE, DistillScript, MethodFlags, defaults_of, positive_flags, with_de
from Utils.training.ranking_lists import load_or_compute_lists
from Utils.training.teacher import teacher_key

DCD_D = defaults_of(DCD)


def add_dcd_flags(parser):
    g = parser.add_argument_group("Dual Correction Distillation (DCD)")
    g.add_argument("--DCD_lmbda_U", type=float, default=DCD_D["lmbda_U"], help="weight of the user side (UCD)")
    g.add_argument("--DCD_lmbda_I", type=float, default=DCD_D["lmbda_I"], help="weight of the item side (ICD; 0: users only)")
    g.add_argument("--DCD_eps", type=float, default=DCD_D["eps"], help="sharpness of the weights tanh(eps (p_S - p_T))")
    g.add_argument("--DCD_p_n", type=int, default=DCD_D["p_n"], help="positions drawn per side and list")
    g.add_argument("--DCD_refresh", type=int, default=DCD_D["refresh"], help="the student re-ranks the lists every this many epochs")
    g.add_argument("--DCD_floor", type=float, default=DCD_D["floor"], help="added to every weight")
    g.add_argument("--DCD_list_len", type=int, default=500, help="length of the teacher's lists (both sides)")


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


def dcd_run_name(a):
    return ("DE_DCD", ("with_DE",)) if a.with_DE else ("DCD", ())


# flags that fit the method to a dataset of a few dozen items (the tests' planted data: 48 items)
SMALL_DATA = ("--DCD_list_len", "8", "--DCD_p_n", "3")
SCRIPT = DistillScript(__doc__, (MethodFlags(add_dcd_flags), WITH_DE, DE_FLAGS), with_de(build_dcd, build_de),
                       dcd_run_name)
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
