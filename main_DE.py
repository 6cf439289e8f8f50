"""Distillation Experts: train a student (dim = 200 * percent) from the BPR teacher's latent space.

    python main_DE.py                          # DE on CiteULike, split seed 0 (trains the teacher if missing)
    python main_DE.py --selection attention    # ablation: softmax weights without Gumbel selection
    python main_DE.py --num_expert 1           # ablation: one expert (plain hint regression)

Logs: runs/<dataset>/DE.{log,jsonl,ranks.npz}.
"""
from Utils.distill import add_de_flags, build_de, distill_main
from Utils.errors import run_cli


def main(argv=None):
    return distill_main(__doc__, [add_de_flags], lambda ctx, teacher, path: build_de(ctx, teacher, ctx.args.dim),
                        de_run_name, "DE", argv)


def de_run_name(a):
    if a.selection == "gumbel" and a.num_expert == 30:
        return "DE", ()
    return f"DE_{a.selection}_M{a.num_expert}", ("selection", "num_expert")


if __name__ == "__main__":
    run_cli(main)
