"""Topology Distillation (Kang et al., KDD'21), the follow-up of DE: the student matches the cosine
similarities among each batch's users and items under the teacher.

    python main_TD.py                          # FTD on CiteULike, split seed 0 (trains the teacher if missing)

Logs: runs/<dataset>/FTD.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Utils.distill import DistillScript, add_td_flags, build_td
from Utils.errors import run_cli

SCRIPT = DistillScript(__doc__, (add_td_flags,), build_td, lambda a: ("FTD", ("variant",)), "FTD")
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
