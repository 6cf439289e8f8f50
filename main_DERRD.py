"""DE-RRD: the paper's full method, L = L_BPR + lambda_DE * L_DE + lambda_RRD * L_RRD.

    python main_DERRD.py                       # DE + URRD, CiteULike, split seed 0
    python main_DERRD.py --sampling none       # DE + unsampled RRD

Logs: runs/<dataset>/{DERRD,DERRD_unsampled}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from main_DE import DE_FLAGS, build_de
from main_URRD import RRD_FLAGS, build_rrd
from main_URRD import SMALL_DATA as RRD_SMALL_DATA
from Models.method import Combined
from Utils.errors import run_cli
from Utils.training.distill import DistillScript


def build(ctx, teacher, teacher_path):
    return Combined([build_de(ctx, teacher, teacher_path), build_rrd(ctx, teacher, teacher_path)])


def derrd_run_name(a):
    return ("DERRD", ()) if a.sampling == "paper" else ("DERRD_unsampled", ("sampling",))


# flags that fit the method to a dataset of a few dozen items (the tests' planted data: 48 items)
SMALL_DATA = RRD_SMALL_DATA + ("--max_epoch", "25")
SCRIPT = DistillScript(__doc__, (DE_FLAGS, RRD_FLAGS), build, derrd_run_name)
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
