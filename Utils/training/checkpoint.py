"""Checkpoints that carry the key of everything that determined them, checked on load.

A checkpoint holds only tensors and plain values (dicts, lists, strings, numbers) and is read with
``torch.load(weights_only=True)``: a file that would need anything else unpickled is refused, so a
crafted file cannot run code.
"""
import hashlib
import os
import pickle

import torch

from Utils.atomic import atomic_path
from Utils.errors import InputError


def save_checkpoint(path, state, key, extra=None):
    """Atomically save {'key', 'state', **extra} to ``path``."""
    with atomic_path(path) as tmp:
        torch.save({"key": key, "state": state, **(extra or {})}, tmp)


def read_checkpoint(path):
    """The stored dict at ``path`` (tensors and plain values only), without checking its key."""
    if not os.path.isfile(path):
        raise InputError(f"no checkpoint at {path}")
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" in str(err):       # a reference to a function or class: refused, never called
            raise InputError(f"{path}: holds objects other than tensors and plain values; refusing to "
                             "unpickle it (only weights are ever loaded)") from None
        raise InputError(f"{path}: not a readable checkpoint of this project (UnpicklingError)") from None
    except Exception as err:  # a truncated or foreign file
        raise InputError(f"{path}: not a readable checkpoint of this project ({type(err).__name__})") from None
    if not isinstance(stored, dict) or not isinstance(stored.get("key"), dict) or "state" not in stored:
        raise InputError(f"{path}: not a checkpoint of this project (no key and state)")
    return stored


def check_key(path, key, expected_key, fields=None):
    """Refuse (InputError) when ``key`` differs from ``expected_key`` on ``fields`` (default: all)."""
    names = set(key) | set(expected_key) if fields is None else set(fields)
    differing = sorted(k for k in names if key.get(k) != expected_key.get(k))
    if differing:
        detail = ", ".join(f"{k}: checkpoint {key.get(k)!r} vs run {expected_key.get(k)!r}" for k in differing)
        raise InputError(f"{path} does not match this run ({detail}); refusing to use it")


def load_checkpoint(path, expected_key):
    """The checkpoint at ``path``; refused (InputError) when its key differs from ``expected_key``."""
    stored = read_checkpoint(path)
    check_key(path, stored["key"], expected_key)
    return stored


def tensors_fingerprint(tensors):
    """sha256 (16 hex digits) of named tensors {name: tensor}: names, dtypes, shapes and values. What a
    cache or resume state derived from a model is keyed by, so a retrained model is never mistaken for
    the old one."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)};".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()[:16]
