"""Topology Distillation (Kang et al., KDD'21), the follow-up of DE: the student matches the cosine
similarities among each batch's users and items under the teacher.

    python main_TD.py                          # FTD on CiteULike, split seed 0 (trains the teacher if missing)
    python main_TD.py --variant htd            # HTD: groups from a DE module

Logs: runs/<dataset>/{FTD,HTD}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from main_DE import DE_FLAGS, build_de
from Models.TD import FTD, HTD
from Utils.errors import InputError, run_cli
from Utils.training.distill import DistillScript, MethodFlags, defaults_of

FTD_D, HTD_D = defaults_of(FTD), defaults_of(HTD)


def add_td_flags(parser):
    g = parser.add_argument_group("Topology Distillation (TD)")
    g.add_argument("--TD_lmbda", type=float, default=FTD_D["lmbda"], help="weight of the topology loss")
    g.add_argument("--variant", choices=["ftd", "htd"], default="ftd",
                   help="ftd: full topology of the batch's entities; htd: within and between the groups "
                        "of a DE module (its flags: --num_expert, --end_T, --skip_ratio)")
    g.add_argument("--HTD_alpha", type=float, default=HTD_D["alpha"], help="HTD: weight of topology vs reconstruction")
    g.add_argument("--HTD_anneal_epochs", type=int, default=100,
                   help="HTD: epochs over which the selection temperature anneals (the release's max_epoch)")


def build_td(ctx, teacher, teacher_path=None):
    a = ctx.args
    if a.variant == "ftd":
        return FTD(teacher, a.TD_lmbda)
    if not 0 <= a.HTD_alpha <= 1:
        raise InputError(f"--HTD_alpha must be in [0, 1], got {a.HTD_alpha}")
    # HTD weighs its reconstruction itself, (1 - alpha) lambda_TD: its DE module's own weight is 1
    if a.HTD_anneal_epochs < 1:
        raise InputError(f"--HTD_anneal_epochs must be at least 1, got {a.HTD_anneal_epochs}")
    de = build_de(ctx, teacher, lmbda=1.0, anneal_epochs=a.HTD_anneal_epochs)
    return HTD(teacher, de, a.TD_lmbda, a.HTD_alpha)


def td_run_name(a):
    return ("FTD", ("variant",)) if a.variant == "ftd" else ("HTD", ("variant",))


# flags that fit the method to a dataset of a few dozen items (the tests' planted data: 48 items)
SMALL_DATA = ()
SCRIPT = DistillScript(__doc__, (MethodFlags(add_td_flags), DE_FLAGS), build_td, td_run_name)
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
