"""Distillation Experts: train a student (dim = 200 * percent) from the BPR teacher's latent space.

    python main_DE.py                          # DE on CiteULike, split seed 0 (trains the teacher if missing)
    python main_DE.py --selection attention    # ablation: softmax weights without Gumbel selection
    python main_DE.py --num_expert 1           # ablation: one expert (plain hint regression)

Logs: runs/<dataset>/DE.{log,jsonl,ranks.npz} (reference runs: --log_path logs/).

DE's flags and builder live here; DE-RRD (main_DERRD.py), HTD (main_TD.py) and DE + DCD (main_DCD.py)
use them from here.
"""
from Models.DE import DE
from Models.zoo import BASE_MODELS
from Utils.errors import InputError, run_cli
from Utils.training.distill import DistillScript, MethodFlags, defaults_of

DE_D = defaults_of(DE)


def add_de_flags(parser):
    g = parser.add_argument_group("Distillation Experts")
    g.add_argument("--lmbda_DE", type=float, default=None, help="weight of the DE loss (None: 0.01 for bpr, "
                                                                 "1e-4 for neumf)")
    g.add_argument("--num_expert", type=int, default=DE_D["num_experts"], help="experts per side (1 = hint regression)")
    g.add_argument("--end_T", type=float, default=DE_D["end_T"], help="final Gumbel-softmax temperature")
    g.add_argument("--anneal_size", type=float, default=1e10,
                   help="kept for compatibility with the original command line; the schedule is "
                        "tau = max((end_T)^((epoch-1)/max_epoch), end_T)")
    g.add_argument("--selection", choices=["gumbel", "attention"], default=DE_D["selection"],
                   help="gumbel (paper) or attention (softmax weights, no noise or temperature)")
    g.add_argument("--skip_ratio", type=float, default=DE_D["skip_ratio"],
                   help="skip (entity, expert) pairs whose weight is below this times the entity's "
                        "largest weight (below float32 resolution); 0 computes every pair")


def build_de(ctx, teacher, teacher_path=None, lmbda=None, anneal_epochs=None):
    """DE from the flags; ``lmbda`` replaces --lmbda_DE for a method that weighs DE's term itself, and
    ``anneal_epochs`` --max_epoch in the temperature schedule for one with its own (HTD)."""
    a = ctx.args
    if a.num_expert < 1:
        raise InputError(f"--num_expert must be at least 1, got {a.num_expert}")
    if not 0 < a.end_T <= 1:
        raise InputError(f"--end_T must be in (0, 1], got {a.end_T}")
    d_s = BASE_MODELS[a.model].representation_size(a.dim)
    return DE(teacher, d_s, ctx.generator, a.lmbda_DE if lmbda is None else lmbda, a.num_expert, end_T=a.end_T,
              max_epoch=a.max_epoch if anneal_epochs is None else anneal_epochs, selection=a.selection,
              skip_ratio=a.skip_ratio)


# The original's weight for BPR-MF (and for every model without a published one: LightGCN, CML, the
# autoencoders); the DE-RRD paper's best for NeuMF (its Table 5: lambda_DE around 1e-4).
DE_FLAGS = MethodFlags(add_de_flags, model_defaults={"lmbda_DE": {"bpr": DE_D["lmbda"], "neumf": 1e-4}})


def de_run_name(a):
    if a.selection == "gumbel" and a.num_expert == 30:
        return "DE", ()
    return f"DE_{a.selection}_M{a.num_expert}", ("selection", "num_expert")


# flags that fit the method to a dataset of a few dozen items (the tests' planted data: 48 items)
SMALL_DATA = ("--max_epoch", "25")
SCRIPT = DistillScript(__doc__, (DE_FLAGS,), build_de, de_run_name)
main, planned_name = SCRIPT.main, SCRIPT.planned_name

if __name__ == "__main__":
    run_cli(main)
