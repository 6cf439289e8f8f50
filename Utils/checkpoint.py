"""Checkpoints that carry the key of everything that determined them, checked on load."""
import os

import torch

from Utils.atomic import atomic_path
from Utils.errors import InputError


def save_checkpoint(path, state, key, extra=None):
    """Atomically save {'key', 'state', **extra} to ``path``."""
    with atomic_path(path) as tmp:
        torch.save({"key": key, "state": state, **(extra or {})}, tmp)


def load_checkpoint(path, expected_key):
    """The checkpoint at ``path``; refused (InputError) when its key differs from ``expected_key``."""
    if not os.path.isfile(path):
        raise InputError(f"no checkpoint at {path}")
    try:
        stored = torch.load(path, map_location="cpu", weights_only=False)
        key = stored["key"]
    except Exception as err:  # a truncated or foreign file
        raise InputError(f"{path}: not a readable checkpoint of this project ({err})") from None
    differing = sorted(k for k in set(key) | set(expected_key) if key.get(k) != expected_key.get(k))
    if differing:
        detail = ", ".join(f"{k}: checkpoint {key.get(k)!r} vs run {expected_key.get(k)!r}" for k in differing)
        raise InputError(f"{path} does not match this run ({detail}); refusing to use it")
    return stored
