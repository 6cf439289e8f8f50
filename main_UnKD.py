"""Unbiased Knowledge Distillation (UnKD, Chen et al., WSDM'23): the student learns the teacher's order of
item pairs drawn within popularity groups, so the teacher's popularity bias is not what it learns.

    python main_UnKD.py                        # the official release's defaults: 2 groups, 30 pairs, weight 1
    python main_UnKD.py --protocol kds --reg 1e-8 --UnKD_lmbda 0.5 --UnKD_pairs 2     # the KDs toolkit's CiteULike

Logs: runs/<dataset>/UnKD.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Models.UnKD import UnKD
from Utils.errors import InputError, run_cli
from Utils.training.distill import DistillScript, MethodFlags, defaults_of, positive_flags

UNKD_D = defaults_of(UnKD)


def add_unkd_flags(parser):
    g = parser.add_argument_group("Unbiased Knowledge Distillation (UnKD)")
    g.add_argument("--UnKD_lmbda", type=float, default=UNKD_D["lmbda"], help="weight of the UnKD loss (kd_weight)")
    g.add_argument("--UnKD_groups", type=int, default=UNKD_D["n_groups"], help="popularity groups (split_group)")
    g.add_argument("--UnKD_pairs", type=int, default=UNKD_D["n_pairs"], help="pairs per user and epoch (sample_num)")
    g.add_argument("--UnKD_lamda", type=float, default=UNKD_D["lamda"],
                   help="exponent of the groups' popularity-based shares of the pairs (0: equal shares)")
    g.add_argument("--UnKD_list_len", type=int, default=UNKD_D["list_len"], help="teacher's list per user and group")
    g.add_argument("--UnKD_T", type=float, default=UNKD_D["T"], help="positions drawn with weight exp(-(p + 1) / T)")


def build_unkd(ctx, teacher, teacher_path):
    a = ctx.args
    positive_flags(a, ("UnKD_groups", "UnKD_pairs", "UnKD_list_len"), ("UnKD_T",))
    if a.UnKD_groups > ctx.split.n_items:
        raise InputError(f"--UnKD_groups {a.UnKD_groups} must not exceed the number of items ({ctx.split.n_items})")
    return UnKD(teacher, ctx.split, ctx.generator, a.UnKD_lmbda, a.UnKD_groups, a.UnKD_pairs, a.UnKD_lamda,
                a.UnKD_list_len, a.UnKD_T)


# flags that fit the method to a dataset of a few dozen items (the tests' planted data: 48 items)
SMALL_DATA = ("--UnKD_pairs", "4")
SCRIPT = DistillScript(__doc__, (MethodFlags(add_unkd_flags),), build_unkd, lambda a: ("UnKD", ()))
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
