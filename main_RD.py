"""Ranking Distillation (RD, Tang & Wang, KDD'18), the DE-RRD paper's first baseline: the teacher's
top-10 unobserved items of each user are extra positives for the student.

    python main_RD.py                          # RD on CiteULike, split seed 0 (trains the teacher if missing)
    python main_RD.py --RD_lmbda 0.1           # another weight

Logs: runs/<dataset>/RD.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Models.RD import RD
from Utils.errors import InputError, run_cli
from Utils.training.distill import DistillScript, MethodFlags, defaults_of, positive_flags
from Utils.training.ranking_lists import load_or_compute_lists
from Utils.training.teacher import teacher_key

RD_D = defaults_of(RD)


def add_rd_flags(parser):
    g = parser.add_argument_group("Ranking Distillation (RD)")
    g.add_argument("--RD_lmbda", type=float, default=RD_D["lmbda"],
                   help="weight of the RD loss (no published default; see docs/results.md)")
    g.add_argument("--RD_K", type=int, default=RD_D["K"], help="teacher's top-K items used as positives")
    g.add_argument("--RD_lambda_pos", type=float, default=RD_D["lambda_pos"], help="position weight exp(-r / lambda_pos)")
    g.add_argument("--RD_mu", type=float, default=RD_D["mu"], help="discrepancy weight tanh(mu (rhat - r))")
    g.add_argument("--RD_samples", type=int, default=RD_D["n_samples"], help="unobserved items drawn for the rank estimate")
    g.add_argument("--RD_dynamic_start", type=int, default=RD_D["dynamic_start"], help="first epoch using the discrepancy weight")


def build_rd(ctx, teacher, teacher_path):
    a = ctx.args
    positive_flags(a, ("RD_K", "RD_samples"), ("RD_lambda_pos",))
    if a.RD_K >= ctx.split.n_items:
        raise InputError(f"--RD_K {a.RD_K} must be below the number of items ({ctx.split.n_items})")
    lists = load_or_compute_lists(teacher, teacher_key(ctx), teacher_path, ctx.split, "user", a.RD_K, ctx.device)
    return RD(lists, ctx.split, ctx.generator, a.RD_lmbda, a.RD_K, a.RD_lambda_pos, a.RD_mu, a.RD_samples,
              a.RD_dynamic_start)


# flags that fit the method to a dataset of a few dozen items (the tests' planted data: 48 items)
SMALL_DATA = ("--RD_K", "3", "--RD_dynamic_start", "5", "--RD_samples", "20")
SCRIPT = DistillScript(__doc__, (MethodFlags(add_rd_flags),), build_rd, lambda a: ("RD", ()))
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
