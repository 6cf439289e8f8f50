"""RCE-KD (Zhu and Zhang, 2025): cross-entropy distillation over the student's top items and over a
teacher-student collaborative sample completed by the teacher's top items, combined adaptively.

    python main_RCEKD.py                       # the official release's CiteULike BPR-MF settings
    python main_RCEKD.py --protocol kds --reg 1e-5            # as the release and the KDs toolkit run it
    python main_RCEKD.py --RCE_sampling rank   # the release's ablation: positions sampled by rank alone

The defaults (weight 500, tau 1, K 50, L 50, T 10, mxK 200, beta 3) are the release's CiteULike config
(``configs/citeulike/bpr/rcekd.yaml``), tuned under the KDs toolkit's protocol; the release also trains the
student with weight decay 1e-5 (``--reg``), which this script leaves at the protocol's default.

Logs: runs/<dataset>/RCEKD.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Models.RCEKD import RCEKD
from Utils.errors import InputError, run_cli
from Utils.training.distill import DistillScript, MethodFlags, defaults_of, positive_flags

RCE_D = defaults_of(RCEKD)


def add_rcekd_flags(parser):
    g = parser.add_argument_group("RCE-KD")
    g.add_argument("--RCE_lmbda", type=float, default=RCE_D["lmbda"], help="weight of the RCE-KD loss")
    g.add_argument("--RCE_tau", type=float, default=RCE_D["tau"], help="softmax temperature of both models' scores")
    g.add_argument("--RCE_K", type=int, default=RCE_D["K"], help="the teacher's and the student's top K")
    g.add_argument("--RCE_L", type=int, default=RCE_D["L"], help="items sampled from the student's top mxK")
    g.add_argument("--RCE_T", type=float, default=RCE_D["T"], help="temperature of the sampling weights")
    g.add_argument("--RCE_mxK", type=int, default=RCE_D["mxK"], help="length of the student's list sampled from")
    g.add_argument("--RCE_beta", type=float, default=RCE_D["beta"], help="w = exp(-beta overlap) combines the two CEs")
    g.add_argument("--RCE_sampling", choices=["collaborative", "rank"], default=RCE_D["sampling"],
                   help="collaborative (the method) or rank (the release's ablation)")


def build_rcekd(ctx, teacher, teacher_path):
    a = ctx.args
    positive_flags(a, ("RCE_K", "RCE_L", "RCE_mxK"), ("RCE_tau", "RCE_T"))
    if not a.RCE_K <= a.RCE_mxK < ctx.split.n_items or a.RCE_L > a.RCE_mxK:
        raise InputError(f"--RCE_K ({a.RCE_K}) <= --RCE_mxK ({a.RCE_mxK}) < number of items ({ctx.split.n_items}) "
                         f"and --RCE_L ({a.RCE_L}) <= --RCE_mxK must hold")
    return RCEKD(teacher, ctx.split, ctx.generator, a.RCE_lmbda, a.RCE_tau, a.RCE_K, a.RCE_L, a.RCE_T, a.RCE_mxK,
                 a.RCE_beta, a.RCE_sampling)


# flags that fit the method to a dataset of a few dozen items (the tests' planted data: 48 items)
SMALL_DATA = ("--RCE_K", "4", "--RCE_L", "4", "--RCE_mxK", "12", "--RCE_lmbda", "1")
SCRIPT = DistillScript(__doc__, (MethodFlags(add_rcekd_flags),), build_rcekd, lambda a: ("RCEKD", ()))
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
