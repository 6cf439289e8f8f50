"""Collaborative Distillation (CD, Lee et al., ICDM'19), the DE-RRD paper's second baseline: the
student fits the teacher's soft labels on items drawn from a guide's top 3,000 by rank.

    python main_CD.py                          # student-guided CD (the student's own ranking, every epoch)
    python main_CD.py --guide teacher          # teacher-guided: the teacher's fixed ranking

The default guide is the student's: neither the DE-RRD paper nor the specification says which its CD
baseline used; student-guided is the third-party toolkit's CiteULike setting (whose weight 0.5 this
uses) and wins on validation on all three split seeds (docs/results.md, "Which guide").

Logs: runs/<dataset>/{CD,CD_teacher}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Models.CD import CD
from Utils.errors import InputError, run_cli
from Utils.training.distill import DistillScript, MethodFlags, defaults_of, positive_flags
from Utils.training.ranking_lists import load_or_compute_lists
from Utils.training.teacher import teacher_key

CD_D = defaults_of(CD)


def add_cd_flags(parser):
    g = parser.add_argument_group("Collaborative Distillation (CD)")
    g.add_argument("--CD_lmbda", type=float, default=CD_D["lmbda"], help="weight of the CD loss")
    g.add_argument("--guide", choices=["teacher", "student"], default=CD_D["guide"],
                   help="whose ranking the items are drawn from (student: recomputed every epoch)")
    g.add_argument("--CD_N", type=int, default=3000, help="length of the guide's ranking drawn from")
    g.add_argument("--CD_n_d", type=int, default=CD_D["n_d"], help="items drawn per user and epoch")
    g.add_argument("--CD_T", type=float, default=CD_D["T"], help="rank-aware draws p(r) ~ exp(-r / (N T))")
    g.add_argument("--CD_soft_T", type=float, default=CD_D["soft_T"], help="soft labels sigmoid(teacher score / soft_T)")


def build_cd(ctx, teacher, teacher_path):
    a = ctx.args
    positive_flags(a, ("CD_N", "CD_n_d"), ("CD_T", "CD_soft_T"))
    if a.CD_n_d > a.CD_N or a.CD_N >= ctx.split.n_items:
        raise InputError(f"--CD_n_d ({a.CD_n_d}) <= --CD_N ({a.CD_N}) < number of items ({ctx.split.n_items}) "
                         "must hold")
    lists = load_or_compute_lists(teacher, teacher_key(ctx), teacher_path, ctx.split, "user", a.CD_N, ctx.device)
    return CD(teacher, lists, ctx.split, ctx.generator, a.CD_lmbda, a.CD_n_d, a.CD_T, a.CD_soft_T, a.guide)


def cd_run_name(a):
    return ("CD", ()) if a.guide == "student" else ("CD_teacher", ("guide",))


# flags that fit the method to a dataset of a few dozen items (the tests' planted data: 48 items)
SMALL_DATA = ("--CD_N", "8")
SCRIPT = DistillScript(__doc__, (MethodFlags(add_cd_flags),), build_cd, cd_run_name)
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
