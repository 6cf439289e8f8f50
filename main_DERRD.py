"""DE-RRD: the paper's full method, L = L_BPR + lambda_DE * L_DE + lambda_RRD * L_RRD.

    python main_DERRD.py                       # DE + URRD, CiteULike, split seed 0
    python main_DERRD.py --sampling none       # DE + unsampled RRD

Logs: runs/<dataset>/{DERRD,DERRD_unsampled}.{log,jsonl,ranks.npz}.
"""
from Models.method import Combined
from Utils.distill import add_de_flags, add_rrd_flags, build_de, build_rrd, distill_main
from Utils.errors import run_cli


def build(ctx, teacher, teacher_path):
    return Combined([build_de(ctx, teacher, ctx.args.dim), build_rrd(ctx, teacher, teacher_path)])


def main(argv=None):
    return distill_main(__doc__, [add_de_flags, add_rrd_flags], build,
                        lambda a: ("DERRD", ()) if a.sampling == "paper" else ("DERRD_unsampled", ("sampling",)), "DERRD", argv)


if __name__ == "__main__":
    run_cli(main)
