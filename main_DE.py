"""Distillation Experts: train a student (dim = 200 * percent) from the BPR teacher's latent space.

    python main_DE.py                          # DE on CiteULike, split seed 0 (trains the teacher if missing)
    python main_DE.py --selection attention    # ablation: softmax weights without Gumbel selection
    python main_DE.py --num_expert 1           # ablation: one expert (plain hint regression)

Logs: runs/<dataset>/DE.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Utils.training.distill import DistillScript, add_de_flags, build_de
from Utils.errors import run_cli


def de_run_name(a):
    if a.selection == "gumbel" and a.num_expert == 30:
        return "DE", ()
    return f"DE_{a.selection}_M{a.num_expert}", ("selection", "num_expert")


SCRIPT = DistillScript(__doc__, (add_de_flags,), build_de, de_run_name, "DE")
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
