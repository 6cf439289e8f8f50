"""Exact resume: a run's whole training state, kept beside its unfinished log, continued by the same command.

``<log folder>/<run>.resume.pt`` holds everything the next epoch depends on: the student, the method's
carried state (``Method.carried``), the optimiser, every random generator (the run's, torch's global
one, CUDA's), the early-stopping and selection state, the best state and its ranks, the log lines so far,
the trainer hook's state (a teacher's trajectory) and the pieces the run ran in (commit, device, epochs).
It is written at the end of an epoch, atomically (a ``.<pid>.part`` sibling renamed over it), at most
every ``--resume_every`` seconds; ``auto`` waits after each save until twenty times that save's
duration has passed, so saving costs at most 5% of the training time whatever the machine, and saves
after the first epoch. A finished run removes its resume file; ``--restart`` discards one.

The file carries a key: the run's configuration (every flag that changes what is computed), the split's
fingerprint, the teacher's (or teachers') fingerprint and the device type. A file whose key differs
is refused with one line naming what differs; nothing is resumed into another run. A file written by
another commit or torch version continues with a note, and the log's final record lists the pieces.
Read with ``weights_only`` (tensors and plain values): nothing is unpickled.
"""
import argparse
import json
import os
import sys
import time

import torch

from Utils.errors import InputError
from Utils.training.checkpoint import check_key, read_checkpoint
from Utils.training.logger import process_alive

SAVE_COST_SHARE = 0.05      # auto: saving takes at most this share of the training time
# Flags that say where files go, how fast it runs or how it is reported: never a reason to refuse a resume.
NOT_IN_KEY = {"quiet", "num_threads", "flush_denormal", "teacher_threads", "log_path", "save_path", "teacher_path", "data_path", "run_name", "save",
              "resume_every", "restart", "device", "device_resolved", "commit", "torch",
              "identity"}         # identity: recorded in the log; its values enter the key by name (resume_key)


def resume_every_flag(text):
    """--resume_every: 'auto' or a number of seconds >= 0 (0: after every epoch)."""
    if text == "auto":
        return text
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"expected 'auto' or seconds >= 0, got {text!r}")
    return seconds


def resume_key(config, device, identity=None):
    """What must match for a saved state to be continued: the configuration (less NOT_IN_KEY), the
    device type and ``identity`` (the teacher's fingerprint, ...)."""
    key = {k: v for k, v in config.items() if k not in NOT_IN_KEY}
    key["device_type"] = device.type
    key.update(identity or {})
    return key


# Method names older commits recorded in a log's configuration, as the code names the same method now:
# plain training was named after its base model; CD's default guide became the student (issue 24),
# when the teacher-guided method's name moved from "CD" to "CD-teacher".
LEGACY_METHOD_NAMES = {"BPR": "none", "CD-student": "CD"}


def current_names(config):
    """``config`` (a logged configuration) with a method name recorded by an older commit replaced by the
    name the code gives the same configuration now (:data:`LEGACY_METHOD_NAMES`), and a CML run logged before
    ``--cml_negatives`` existed recorded as what it was (one negative per pair)."""
    method = config.get("method")
    if method == "CD" and config.get("guide") == "teacher":
        method = "CD-teacher"
    legacy = {"cml_negatives": 1} if config.get("model") == "cml" and "cml_negatives" not in config else {}
    return dict(config, method=LEGACY_METHOD_NAMES.get(method, method), **legacy)   # CML before WARP: one negative


def check_name_free(log_path, key):
    """Refuse (InputError) to write a run's logs over the finished log ``log_path`` of another
    configuration: one whose recorded configuration, data split or teacher (``identity``) differs from
    ``key`` (a :func:`resume_key`) on a field both record, the device type aside. Rerunning the same
    configuration replaces its log; a log without a final record (or unreadable) is not a finished run."""
    try:
        with open(log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - (1 << 20)))
            last = f.read().decode("utf-8", "replace").rstrip("\n").rsplit("\n", 1)[-1]
        config = json.loads(last)["final"]["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    old = resume_key(current_names(config), torch.device("cpu"), config.get("identity"))
    differing = sorted(k for k in set(old) & set(key) - {"device_type", "identity"} if old[k] != key[k])
    if differing:
        detail = ", ".join(f"{k}: {old[k]!r} there, {key[k]!r} here" for k in differing[:4])
        raise InputError(f"{log_path} is the finished log of another configuration ({detail}"
                         f"{', ...' if len(differing) > 4 else ''}); give this run its own --run_name "
                         f"or another --log_path")


def resume_file(folder, name):
    return os.path.join(folder, f"{name}.resume.pt")


class ResumeFile:
    """The resume state of one run: ``state`` is what was found (None: a fresh start)."""

    def __init__(self, path, key, every="auto", restart=False):
        self.path, self.key, self.every = path, key, every
        self.state = None
        self.last_save_end = time.perf_counter()
        self.last_save_s = 0.0
        if restart and os.path.exists(path):
            os.remove(path)
            print(f"note: --restart: removed {path}", file=sys.stderr)
        self._remove_stale_parts()
        if os.path.exists(path):
            self.state = self._load()

    def _remove_stale_parts(self):
        folder, base = os.path.split(self.path)
        prefix = base + "."
        for file in os.listdir(folder or "."):
            pid = file[len(prefix):-len(".part")] if file.startswith(prefix) and file.endswith(".part") else ""
            if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
                os.remove(os.path.join(folder, file))

    def _load(self):
        try:
            stored = read_checkpoint(self.path)
        except InputError as err:
            raise InputError(f"{err}; give --restart to discard it and start over") from None
        # states saved by commits 6b54f17..74db4a3 carry the configuration's copy of the identity as a field
        # of its own; its values are compared by name below, so the copy is left out
        saved_key = {k: v for k, v in stored["key"].items() if k not in NOT_IN_KEY}
        try:
            check_key(self.path, saved_key, self.key)            # names every field that differs
        except InputError as err:
            raise InputError(f"{err}; give --restart to discard it and start over") from None
        return stored["state"]

    def due(self):
        """Whether the end of this epoch should save: ``every`` seconds since the last save (auto: 20x its cost)."""
        wait = self.last_save_s / SAVE_COST_SHARE if self.every == "auto" else self.every
        return time.perf_counter() - self.last_save_end >= wait

    def save(self, state):
        start = time.perf_counter()
        part = f"{self.path}.{os.getpid()}.part"        # a killed save leaves this, removed next time
        torch.save({"key": self.key, "state": state}, part)
        os.replace(part, self.path)
        self.last_save_end = time.perf_counter()
        self.last_save_s = self.last_save_end - start

    def remove(self):
        if os.path.exists(self.path):
            os.remove(self.path)


def rng_state(generator):
    """Every random generator a run draws from: its own, torch's global one and (on CUDA) the device's."""
    state = {"generator": generator.get_state(), "torch": torch.get_rng_state()}
    if generator.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(generator.device)
    return state


def restore_rng(generator, state):
    generator.set_state(state["generator"].cpu())
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), generator.device)
