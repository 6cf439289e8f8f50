"""Collaborative Distillation (CD, Lee et al., ICDM'19), the DE-RRD paper's second baseline: the
student fits the teacher's soft labels on items drawn from a guide's top 3,000 by rank.

    python main_CD.py                          # teacher-guided CD on CiteULike, split seed 0
    python main_CD.py --guide student          # student-guided: the student's own ranking, every epoch

Logs: runs/<dataset>/{CD,CD_student}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Utils.training.distill import DistillScript, add_cd_flags, build_cd
from Utils.errors import run_cli


def cd_run_name(a):
    return ("CD", ()) if a.guide == "teacher" else ("CD_student", ("guide",))


SCRIPT = DistillScript(__doc__, (add_cd_flags,), build_cd, cd_run_name, "CD")
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
