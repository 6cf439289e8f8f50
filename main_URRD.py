"""Relaxed Ranking Distillation (user side, the original's URRD), its unsampled variant and IR-RRD.

    python main_URRD.py                        # URRD on CiteULike, split seed 0 (trains the teacher if missing)
    python main_URRD.py --sampling none        # unsampled ranking matching (WWW'23)
    python main_URRD.py --IR_reg_lmbda 5e-4    # IR-RRD: adds the item-side loss

Logs: runs/<dataset>/{URRD,URRD_unsampled_K<K>,IR_RRD}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).
"""
from Utils.training.distill import DistillScript, add_rrd_flags, build_rrd, rrd_run_name
from Utils.errors import run_cli

SCRIPT = DistillScript(__doc__, (add_rrd_flags,), build_rrd, rrd_run_name, "URRD")
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
