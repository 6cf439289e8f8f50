"""What every entry script does around the training loop: data, evaluator, logs, checkpoint."""
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch

from Models.zoo import build_model, on_device
from Utils.atomic import atomic_path
from Utils.data.candidates import load_or_sample_candidates
from Utils.training.checkpoint import save_checkpoint, tensors_fingerprint
from Utils.training.config import protocol_notes, resolve_device, validate
from Utils.data.dataset import load_split
from Utils.data.heldout_split import load_heldout_split, parse_ratios
from Utils.errors import InputError
from Utils.training.evaluation import Evaluator
from Utils.training.heldout_evaluation import HeldoutEvaluator
from Utils.training.logger import RunLogger
from Utils.training.protocols import SELECTION_FLAGS
from Utils.training.resume import ResumeFile, check_name_free, resume_file, resume_key
from Utils.paper import comparison_lines
from Utils.registry import paper_row
from Utils.training.trainer import train


@dataclass
class Context:
    args: object
    split: object
    evaluator: object          # Evaluator (leave-one-out) or HeldoutEvaluator
    device: torch.device
    generator: torch.Generator


def git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def check_writable(folder, flag):
    """Create ``folder`` and write a file into it, so an unwritable output stops the run before training."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise InputError(f"{flag}: cannot write into {folder} ({err.strerror})") from None


def setup(args):
    """Validate flags, load the split and candidates, seed everything. -> Context."""
    validate(args)
    device = resolve_device(args.device)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    torch.set_flush_denormal(bool(args.flush_denormal))     # process-wide, CPU only (docs/speed.md)
    if args.split == "loo":
        split = load_split(args.data_path, args.dataset, args.LOO_seed, args.min_user_inter, args.split_by,
                           args.min_rating)
    else:
        split = load_heldout_split(args.data_path, args.dataset, args.split, parse_ratios(args.ratios), args.order,
                                   args.LOO_seed, args.min_user_inter, args.min_rating, bool(args.drop_unseen))
    check_writable(os.path.join(args.log_path, args.dataset), "--log_path")      # after the data: bad input
    check_writable(os.path.join(args.save_path, args.dataset), "--save_path")    # leaves no folder behind
    if args.split == "loo":
        candidates = load_or_sample_candidates(split, args.LOO_seed, args.num_candidates, args.save_path)
        evaluator = Evaluator(split, candidates, device, mode=args.eval)
    else:
        evaluator = HeldoutEvaluator(split, device, args.cutoffs, args.select, bool(args.mask_heldout))
    torch.manual_seed(args.seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(args.seed)
    return Context(args, split, evaluator, device, generator)


def split_key(ctx):
    """What determines the data a model was trained on and, on a held-out split, the rule that selected
    its epoch (leave-one-out keys are as before the protocols existed, so their checkpoints still match)."""
    a = ctx.args
    key = {"dataset": a.dataset, "split": ctx.split.fingerprint, "LOO_seed": a.LOO_seed,
           "n_users": ctx.split.n_users, "n_items": ctx.split.n_items}
    if a.split != "loo":
        key["selection"] = {flag: getattr(a, flag) for flag in SELECTION_FLAGS}
    return key


def new_student(ctx, dim):
    """A fresh base model of ``--model`` with embedding size ``dim`` on the run's device."""
    a = ctx.args
    return on_device(build_model(a.model, ctx.split, dim, getattr(a, "cml_negatives", None),
                                 getattr(a, "neumf_part", None)), ctx.split, ctx.device)


def open_resume(folder, run_name, config, ctx, identity):
    """The run's ResumeFile, with the state of an interrupted run of this name when there is one (said in
    one line; refused when it belongs to another configuration, teacher or data)."""
    a = ctx.args
    resume = ResumeFile(resume_file(folder, run_name), resume_key(config, ctx.device, identity), a.resume_every,
                        a.restart)
    if resume.state is not None:
        pieces = resume.state["pieces"]
        print(f"resuming {run_name} after epoch {resume.state['epoch']} from {resume.path} "
              f"(--restart starts over)", file=sys.stderr)
        saved = (pieces[-1].get("commit"), pieces[-1].get("torch"))
        if saved != (config["commit"], config["torch"]):
            print(f"note: the saved state was written by commit {saved[0]} (torch {saved[1]}); continuing with "
                  f"commit {config['commit']} (torch {config['torch']}), recorded in the log's pieces",
                  file=sys.stderr)
    return resume


def run(ctx, student, method, run_name, header=(), checkpoint_path=None, checkpoint_key=None,
        on_improved=None, identity=None):
    """Train, log (human + JSON lines + ranks), save the checkpoint, print the comparison with the published
    numbers of the run's registered row (``Utils.registry.paper_row``: none for an unregistered name); ``on_improved``
    is called at each improving epoch (see ``train``). An interrupted run of this name continues where its
    resume file left it; ``identity`` ({name: fingerprint}: the teacher's) must match it as the
    configuration must. -> TrainResult."""
    args = ctx.args
    folder = os.path.join(args.log_path, args.dataset)
    config = dict(vars(args), method=method.name, device_resolved=str(ctx.device), commit=git_commit(),
                  split_fingerprint=ctx.split.fingerprint, torch=str(torch.__version__))
    if identity:
        config["identity"] = dict(identity)
    check_name_free(os.path.join(folder, f"{run_name}.jsonl"), resume_key(config, ctx.device, identity))
    resume = open_resume(folder, run_name, config, ctx, identity)
    notes = protocol_notes(args)
    for text in notes:
        if text.startswith("WARNING"):
            print(text, file=sys.stderr)
    logger = RunLogger(folder, run_name, quiet=args.quiet)
    piece = {"commit": config["commit"], "torch": config["torch"], "device": str(ctx.device),
             "threads": torch.get_num_threads(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    finished = False
    try:
        if resume.state is None:
            logger.line(f"Config: {config}")
            logger.line(ctx.split.stats())
            for text in [*header, *notes]:
                logger.line(text)
        else:
            logger.load_state_dict(resume.state["log"])
            logger.line(f"Resumed after epoch {resume.state['epoch']}: commit {piece['commit']}, {piece['device']}, "
                        f"{piece['threads']} threads, {piece['started']}")
        result = train(student, method, ctx.split, ctx.evaluator, args, logger, ctx.generator, on_improved,
                       resume, piece)
        result.final["config"] = config
        if checkpoint_path:             # what a student of this checkpoint records as its teacher's identity
            result.final["fingerprint"] = tensors_fingerprint(result.best_state)
        logger.final(result.final)
        if not notes:                   # the paper's protocol: its numbers beside ours
            for text in comparison_lines(paper_row(run_name), result.final["test"], args.dataset):
                logger.line(text)
        finished = True
    finally:
        logger.close(finished)
    with atomic_path(os.path.join(folder, f"{run_name}.ranks.npz")) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: v.astype(np.int32) for k, v in result.best_ranks.items()})
    if checkpoint_path:
        save_checkpoint(checkpoint_path, result.best_state, checkpoint_key,
                        {"epoch": result.final["checkpoint_epoch"], "valid": result.final.get("valid", {}),
                         "epochs_run": result.final["epochs_run"], "stopped": result.final["stopped"]})
        print(f"saved {checkpoint_path}", file=sys.stderr)
        result.checkpoint_path = checkpoint_path
    resume.remove()                     # finished: the log, ranks and checkpoint are whole
    return result
