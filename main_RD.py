"""Ranking Distillation (RD, Tang & Wang, KDD'18), the DE-RRD paper's first baseline: the teacher's
top-10 unobserved items of each user are extra positives for the student.

    python main_RD.py                          # RD on CiteULike, split seed 0 (trains the teacher if missing)
    python main_RD.py --RD_lmbda 0.1           # another weight

Logs: runs/<dataset>/RD.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Utils.training.distill import DistillScript, add_rd_flags, build_rd
from Utils.errors import run_cli


SCRIPT = DistillScript(__doc__, (add_rd_flags,), build_rd, lambda a: ("RD", ()), "RD")
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
