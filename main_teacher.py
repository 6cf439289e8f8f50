"""Train a base model with the paper's protocol: the teacher (BPR-MF dim 200, default) or, with
--dim 20, the student without distillation; --model neumf for NeuMF (teacher 250, student 25).

    python main_teacher.py                 # the teacher, CiteULike, split seed 0
    python main_teacher.py --dim 20        # the no-distillation student baseline
    python main_teacher.py --model neumf   # the NeuMF teacher (dim 250)

Logs: runs/<dataset>/{teacher,student}.{log,jsonl,ranks.npz} (reference runs: --log_path logs/);
checkpoint: Saved_models/<dataset>/.
"""
from Utils.errors import run_cli
from Utils.training.experiment import setup
from Utils.training.protocols import apply_protocol
from Utils.training.teacher import (base_model_parser, base_model_run_name, checkpoint_file, model_key, resolve_dim,
                           train_base_model)


def planned_name(argv=None):
    """The run name ``main(argv)`` would log under."""
    parser = base_model_parser(__doc__.splitlines()[0])
    return base_model_run_name(parser, resolve_dim(apply_protocol(parser, argv)))


def main(argv=None):
    parser = base_model_parser(__doc__.splitlines()[0])
    args = resolve_dim(apply_protocol(parser, argv))
    ctx = setup(args)
    key = model_key(ctx, args.dim, args.lr, args.reg, args.seed, vars(args))
    path = checkpoint_file(args.save_path, key) if args.save else None
    return train_base_model(ctx, base_model_run_name(parser, args), path)


if __name__ == "__main__":
    run_cli(main)
