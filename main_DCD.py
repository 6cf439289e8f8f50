"""Dual Correction Distillation (DCD, Lee & Kim, CIKM'21), a follow-up of RRD: ranking distillation
on the teacher's items (and users) that the student currently under- and over-estimates.

    python main_DCD.py                         # DCD on CiteULike, split seed 0 (trains the teacher if missing)
    python main_DCD.py --DCD_lmbda_I 0         # the user side only

Logs: runs/<dataset>/DCD.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Utils.training.distill import DistillScript, add_dcd_flags, build_dcd
from Utils.errors import run_cli

SCRIPT = DistillScript(__doc__, (add_dcd_flags,), build_dcd, lambda a: ("DCD", ()), "DCD")
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
