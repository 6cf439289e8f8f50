"""HetComp (Kang et al., WWW'23): an MF student distilled from the ensemble ranking of heterogeneous
teachers, each followed along its training trajectory (docs/methods.md, HetComp).

    python main_HetComp.py                          # CiteULike, split seed 0, the six teacher families;
                                                    # trains the missing teachers first (with trajectories)
    python main_HetComp.py --teachers bpr lightgcn  # two families only
    python main_HetComp.py --teachers bpr Saved_models/citeULike/LightGCN_dim200_..._lr0.01_reg0_....pt

Logs: runs/<dataset>/HetComp.{log,jsonl,ranks.npz} (reference runs: --log_path logs/); each teacher
trained on the way logs under its own name beside it.
"""
from Models.zoo import BASE_MODELS
from Utils.errors import InputError, run_cli
from Utils.training.config import common_parser
from Utils.training.distill import positive_flags
from Utils.training.experiment import setup
from Utils.training.hetcomp import FAMILIES, teacher_label, train_hetcomp
from Utils.training.protocols import apply_protocol
from Utils.training.run_names import run_name
from Utils.training.trajectory import SPACINGS

D = {"dim": 20, "reg": 1e-5, "early_stop": 50}   # the release's student: weight decay 1e-5, patience 5 x 10 epochs


def parser():
    p = common_parser(__doc__.splitlines()[0])
    p.set_defaults(**D)
    g = p.add_argument_group("teachers")
    g.add_argument("--teachers", nargs="+", default=list(FAMILIES),
                   help="teacher families (trained with their defaults when missing) or checkpoint files "
                        "trained on this split, with their trajectory beside them")
    g.add_argument("--teacher_path", default="Saved_models/", help="folder where family teachers are looked for "
                                                                   "and trained into")
    g.add_argument("--trajectory", type=int, default=4, help="checkpoints per teacher's trajectory")
    g.add_argument("--trajectory_K", type=int, default=100, help="items per user kept at each checkpoint")
    g.add_argument("--trajectory_spacing", choices=SPACINGS, default="epochs",
                   help="how the teachers' checkpoints are chosen (Utils/training/trajectory.py)")
    g = p.add_argument_group("HetComp")
    g.add_argument("--HetComp_K", type=int, default=100, help="length of the ensemble's list per user")
    g.add_argument("--observed", type=int, default=None, help="observed items per user in the lists (None: K / 10)")
    g.add_argument("--final_top", type=int, default=None, help="second stage: list prefix ranked (None: K / 2)")
    g.add_argument("--final_sub", type=int, default=None, help="second stage: shorter prefix ranked too (None: K / 10)")
    g.add_argument("--HetComp_lmbda", type=float, default=0.01, help="weight of the first-stage loss")
    g.add_argument("--HetComp_lmbda_final", type=float, default=0.005, help="weight of the second-stage loss")
    g.add_argument("--HetComp_base", type=int, choices=[0, 1], default=0,
                   help="1: train the student's own loss (BPR) beside HetComp's, as the KDs toolkit does; "
                        "0: HetComp's terms alone (the release's)")
    g.add_argument("--every", type=int, default=10, help="epochs between advance checks (p)")
    g.add_argument("--alpha", type=float, default=1.05, help="advance threshold alpha * decay^(epoch // p)")
    g.add_argument("--alpha_decay", type=float, default=0.995, help="decay of the advance threshold")
    g.add_argument("--ndcg_K", type=int, default=50, help="list length of the student-checkpoint distance")
    g.add_argument("--ensemble_T", type=float, default=10.0, help="position weights exp(-r / T) of the ensemble")
    g.add_argument("--ndcg_T", type=float, default=10.0, help="gains 2^exp(-t / T) - 1 of the distance")
    return p


def parse(argv=None):
    p = parser()
    args = apply_protocol(p, argv)
    as_given = dict(vars(args))
    if args.teachers != list(FAMILIES):                  # named by families or checkpoint file stems
        as_given["teachers"] = "+".join(teacher_label(t) for t in args.teachers)
    K = args.HetComp_K
    args.observed = K // 10 if args.observed is None else args.observed
    args.final_top = K // 2 if args.final_top is None else args.final_top
    args.final_sub = K // 10 if args.final_sub is None else args.final_sub
    positive_flags(args, ("trajectory", "trajectory_K", "HetComp_K", "observed", "final_top", "final_sub", "every",
                          "ndcg_K"),
                   ("HetComp_lmbda", "HetComp_lmbda_final", "alpha", "alpha_decay", "ensemble_T", "ndcg_T"))
    if not args.final_sub <= args.final_top <= K <= args.trajectory_K or args.ndcg_K > args.trajectory_K:
        raise InputError(f"--final_sub ({args.final_sub}) <= --final_top ({args.final_top}) <= --HetComp_K ({K}) "
                         f"<= --trajectory_K ({args.trajectory_K}) and --ndcg_K ({args.ndcg_K}) <= --trajectory_K "
                         "must hold")
    if not BASE_MODELS[args.model].dot_product:
        raise InputError(f"--model {args.model}: HetComp's unsampled loss needs a dot-product student (--model bpr)")
    return p, args, as_given


def planned_name(argv=None):
    p, args, as_given = parse(argv)
    return args.run_name or run_name(p, as_given, "HetComp")


def main(argv=None):
    p, args, as_given = parse(argv)
    name = args.run_name or run_name(p, as_given, "HetComp")
    return train_hetcomp(setup(args), name)


if __name__ == "__main__":
    run_cli(main)
