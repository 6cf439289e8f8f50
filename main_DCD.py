"""Dual Correction Distillation (DCD, Lee & Kim, CIKM'21), a follow-up of RRD: ranking distillation
on the teacher's items (and users) that the student currently under- and over-estimates.

    python main_DCD.py                         # DCD on CiteULike, split seed 0 (trains the teacher if missing)
    python main_DCD.py --DCD_lmbda_I 0         # the user side only
    python main_DCD.py --with_DE               # DE + DCD (the DCD paper's setting builds on DE-RRD's)

Logs: runs/<dataset>/{DCD,DE_DCD}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Utils.training.distill import (DistillScript, add_dcd_flags, add_de_flags, add_with_de_flag, build_dcd,
                                    maybe_with_de)
from Utils.errors import run_cli


def dcd_run_name(a):
    return ("DE_DCD", ("with_DE",)) if a.with_DE else ("DCD", ())


SCRIPT = DistillScript(__doc__, (add_dcd_flags, add_with_de_flag, add_de_flags), maybe_with_de(build_dcd),
                       dcd_run_name, "DCD")
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
