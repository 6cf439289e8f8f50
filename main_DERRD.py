"""DE-RRD: the paper's full method, L = L_BPR + lambda_DE * L_DE + lambda_RRD * L_RRD.

    python main_DERRD.py                       # DE + URRD, CiteULike, split seed 0
    python main_DERRD.py --sampling none       # DE + unsampled RRD

Logs: runs/<dataset>/{DERRD,DERRD_unsampled}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Models.method import Combined
from Utils.training.distill import DistillScript, add_de_flags, add_rrd_flags, build_de, build_rrd
from Utils.errors import run_cli


def build(ctx, teacher, teacher_path):
    return Combined([build_de(ctx, teacher, teacher_path), build_rrd(ctx, teacher, teacher_path)])


def derrd_run_name(a):
    return ("DERRD", ()) if a.sampling == "paper" else ("DERRD_unsampled", ("sampling",))


SCRIPT = DistillScript(__doc__, (add_de_flags, add_rrd_flags), build, derrd_run_name, "DERRD")
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
