"""The named evaluation protocols (docs/protocols.md): each is a set of flag defaults, applied before the
command line is read, so any of its flags can still be given explicitly.

- ``loo``: the DE-RRD paper's (leave-one-out, 499 sampled candidates, HR/NDCG/MRR@5/10/20, per-N
  selection on validation HR). The default; its flags are the parser's own defaults.
- ``kds``: the KDs toolkit's (github woriazzc/KDs) and the papers that use it: each user's items cut 8:1:1
  in file order, full ranking with the training items masked, Recall/NDCG@10/20, selection on validation
  NDCG@10 evaluated every epoch with patience 30, batches of 2048, BPR-MF teacher 400 and student 20.
- ``hetcomp``: the HetComp release's (github SeongKu-Kang/HetComp_WWW23): a seeded per-user shuffle cut
  60/20/20 with unseen held-out items dropped, training and the other held-out set masked,
  Recall/NDCG@10/50, selection on validation Recall@50 evaluated every 10 epochs with patience 5.

The general form underneath: ``--split loo|ratio|hetcomp``, ``--ratios a,b,c``, ``--order file|random|time``,
``--drop_unseen``, ``--cutoffs``, ``--mask_heldout``, ``--select``, ``--eval_every``.
"""
import re

from Utils.data.heldout_split import parse_ratios
from Utils.errors import InputError

PROTOCOLS = {
    "loo": {},
    "kds": {"split": "ratio", "ratios": "8,1,1", "order": "file", "drop_unseen": 0,
            "cutoffs": "10,20", "mask_heldout": 0, "select": "N@10", "eval_every": 1, "early_stop": 30,
            "batch_size": 2048, "teacher_dim": 400, "percent": 0.05},
    "hetcomp": {"split": "hetcomp", "ratios": "6,2,2", "order": "random", "drop_unseen": 1,
                "cutoffs": "10,50", "mask_heldout": 1, "select": "R@50", "eval_every": 10, "early_stop": 5},
}
SPLITS = ("loo", "ratio", "hetcomp")
# the flags only a held-out split reads, with the parser's defaults (which leave-one-out must keep)
HELDOUT_ONLY = {"ratios": "8,1,1", "order": "file", "drop_unseen": 0, "cutoffs": "10,20", "mask_heldout": 0,
                "select": "N@10"}
# what a trained model's selection depends on beyond its data and training flags (part of its key)
SELECTION_FLAGS = ("cutoffs", "mask_heldout", "select", "eval_every")
SELECT = re.compile(r"([RNH])@(\d+)")


def add_protocol_flags(group):
    """The protocol flags, into the parser's 'data and protocol' group."""
    group.add_argument("--protocol", choices=list(PROTOCOLS), default="loo",
                       help="loo (the paper's), kds (the KDs toolkit's) or hetcomp (the HetComp release's): "
                            "defaults for the flags below and the model sizes (docs/protocols.md)")
    group.add_argument("--split", choices=SPLITS, default="loo",
                       help="loo: one valid and one test item per user; ratio: each user's items cut at --ratios "
                            "in --order; hetcomp: the HetComp release's seeded cut")
    group.add_argument("--ratios", default=HELDOUT_ONLY["ratios"], help="train,valid,test shares of a held-out split")
    group.add_argument("--order", choices=["file", "random", "time"], default=HELDOUT_ONLY["order"],
                       help="order of a user's items before a ratio cut (random: seeded by --LOO_seed)")
    group.add_argument("--drop_unseen", type=int, choices=[0, 1], default=HELDOUT_ONLY["drop_unseen"],
                       help="drop held-out items that no user has in train")
    group.add_argument("--cutoffs", default=HELDOUT_ONLY["cutoffs"], help="K of Recall/NDCG/HR@K on a held-out split")
    group.add_argument("--mask_heldout", type=int, choices=[0, 1], default=HELDOUT_ONLY["mask_heldout"],
                       help="also mask the other held-out set when ranking one (1: HetComp's rule; 0: train only)")
    group.add_argument("--select", default=HELDOUT_ONLY["select"],
                       help="validation metric that selects the epoch on a held-out split: R@K, N@K or H@K")
    group.add_argument("--eval_every", type=int, default=1, help="epochs between evaluations (patience counts these)")


def apply_protocol(parser, argv=None):
    """Parse ``argv`` with the defaults of the protocol it names (``--protocol``) -> args."""
    known, _ = parser.parse_known_args(argv)
    dests = {action.dest for action in parser._actions}
    parser.set_defaults(**{k: v for k, v in PROTOCOLS[known.protocol].items() if k in dests})
    return parser.parse_args(argv)


def protocol_default(protocol, flag, fallback):
    """``flag``'s value under ``protocol`` where the protocol sets it, else ``fallback``."""
    return PROTOCOLS[protocol].get(flag, fallback)


def parse_cutoffs(text):
    """'10,20' -> (10, 20), ascending, distinct, positive (InputError naming --cutoffs)."""
    try:
        cutoffs = tuple(sorted({int(part) for part in text.split(",")}))
    except (AttributeError, ValueError):
        cutoffs = ()
    if not cutoffs or cutoffs[0] < 1:
        raise InputError(f"--cutoffs {text!r}: positive integers separated by commas, such as 10,20")
    return cutoffs


def validate_protocol(args):
    """The held-out flags make sense together (InputError naming the flag)."""
    if args.eval_every < 1:
        raise InputError(f"--eval_every must be at least 1, got {args.eval_every}")
    if args.split == "loo":
        for flag, default in HELDOUT_ONLY.items():
            if getattr(args, flag) != default:
                raise InputError(f"--{flag} applies to held-out splits (--split ratio or hetcomp, --protocol kds or "
                                 "hetcomp); leave-one-out ranks one item per user on HR/NDCG/MRR@5/10/20")
        return
    if args.order in ("file", "time") and args.split == "ratio" and args.LOO_seed != 0:
        raise InputError(f"--LOO_seed {args.LOO_seed}: a ratio split in {args.order} order has no seed (use --order "
                         "random for seeded splits)")
    if args.split_by != "random":
        raise InputError("--split_by applies to leave-one-out; a held-out split takes --order time")
    parse_ratios(args.ratios)
    cutoffs = parse_cutoffs(args.cutoffs)
    match = SELECT.fullmatch(args.select)
    if not match or int(match.group(2)) not in cutoffs:
        raise InputError(f"--select {args.select!r}: R@K, N@K or H@K with K among --cutoffs {args.cutoffs}")
