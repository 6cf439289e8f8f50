"""Collaborative Distillation (CD, Lee et al., ICDM'19), the DE-RRD paper's second baseline: the
student fits the teacher's soft labels on items drawn from a guide's top 3,000 by rank.

    python main_CD.py                          # teacher-guided CD on CiteULike, split seed 0
    python main_CD.py --guide student          # student-guided: the student's own ranking, every epoch

Logs: runs/<dataset>/{CD,CD_student}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Utils.distill import add_cd_flags, build_cd, distill_main
from Utils.errors import run_cli


def main(argv=None):
    return distill_main(__doc__, [add_cd_flags], build_cd,
                        lambda a: ("CD", ()) if a.guide == "teacher" else ("CD_student", ("guide",)), "CD", argv)


if __name__ == "__main__":
    run_cli(main)
