"""Train BPR-MF with the paper's protocol: the teacher (dim 200, default) or, with --dim 20, the
student without distillation.

    python main_teacher.py                 # the teacher, CiteULike, split seed 0
    python main_teacher.py --dim 20        # the no-distillation student baseline

Logs: logs/<dataset>/{teacher,student}.{log,jsonl,ranks.npz}; checkpoint: Saved_models/<dataset>/.
"""
from Models.method import Method
from Utils.config import common_parser, with_suffixes
from Utils.errors import run_cli
from Utils.experiment import new_student, run, setup
from Utils.teacher import checkpoint_file, model_key


def run_name(args):
    base = {200: "teacher", 20: "student"}.get(args.dim, f"BPR_dim{args.dim}")
    return args.run_name or with_suffixes(base, args)


def main(argv=None):
    parser = common_parser(__doc__.splitlines()[0], dim=200)
    parser.add_argument("--save", type=int, default=1, choices=[0, 1], help="save the best checkpoint")
    args = parser.parse_args(argv)
    ctx = setup(args)
    key = model_key(ctx, args.dim, args.lr, args.reg, args.seed)
    path = checkpoint_file(args.save_path, key) if args.save else None
    kind = "teacher" if args.dim == 200 else "student"
    return run(ctx, new_student(ctx, args.dim), Method(), run_name(args), kind,
               header=[f"BPR dim {args.dim}: {ctx.split.n_users * args.dim + ctx.split.n_items * args.dim} parameters"],
               checkpoint_path=path, checkpoint_key=key)


if __name__ == "__main__":
    run_cli(main)
