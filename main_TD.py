"""Topology Distillation (Kang et al., KDD'21), the follow-up of DE: the student matches the cosine
similarities among each batch's users and items under the teacher.

    python main_TD.py                          # FTD on CiteULike, split seed 0 (trains the teacher if missing)
    python main_TD.py --variant htd            # HTD: groups from a DE module

Logs: runs/<dataset>/{FTD,HTD}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Utils.training.distill import DistillScript, add_de_flags, add_td_flags, build_td
from Utils.errors import run_cli

def td_run_name(a):
    return ("FTD", ("variant",)) if a.variant == "ftd" else ("HTD", ("variant",))


SCRIPT = DistillScript(__doc__, (add_td_flags, add_de_flags), build_td, td_run_name, "TD")
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
