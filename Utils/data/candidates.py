"""The fixed evaluation candidates: 499 sampled negatives per user (docs/methods.md, Protocol).

Sampled once per (dataset, split), seeded, and identical on every run and machine: the draws are
raw 64-bit outputs of numpy's PCG64 (a fixed algorithm, independent of library version and device),
reduced modulo the number of items. Cached under ``Saved_models/<dataset>/`` with their key and a
sha256 checksum that is verified on load.
"""
import hashlib
import json
import os

import numpy as np
import torch

from Utils.atomic import atomic_path
from Utils.errors import InputError
from Utils.tensors.sampling import PairSet, sample_distinct_excluding

CANDIDATE_SEED_OFFSET = 1_000_003   # keeps candidate draws independent of the split's own draws
CHUNK_USERS = 4096                  # users sampled at a time (same draws as at once; bounded memory)


def pcg64_draw(seed):
    """A ``draw(shape, high)`` function backed by the PCG64 raw stream (machine independent)."""
    bit_generator = np.random.PCG64(seed)

    def draw(shape, high):
        count = int(np.prod(shape))
        raw = bit_generator.random_raw(count).astype(np.uint64)
        return torch.from_numpy((raw % np.uint64(high)).astype(np.int64).reshape(shape))
    return draw


def observed_pairs(split):
    """Every (user, item) the user has interacted with: train, valid and test."""
    users = [torch.from_numpy(split.train_users)]
    items = [torch.from_numpy(split.train_items)]
    for held in (split.valid_item, split.test_item):
        has = held >= 0
        users.append(torch.from_numpy(np.nonzero(has)[0]))
        items.append(torch.from_numpy(held[has]))
    return PairSet(torch.cat(users), torch.cat(items), split.n_items)


def sample_candidates(split, loo_seed, num_candidates=499, chunk_users=CHUNK_USERS):
    """[n_users, num_candidates] int64: items the user never interacted with, without replacement;
    the same for any ``chunk_users`` (None: all users at once)."""
    observed = observed_pairs(split)
    counts = np.bincount(split.train_users, minlength=split.n_users) + \
        (split.valid_item >= 0) + (split.test_item >= 0)
    short = np.nonzero(split.n_items - counts < num_candidates)[0]
    if len(short):
        raise InputError(f"user {short[0]} has only {split.n_items - counts[short[0]]} items left to "
                         f"sample {num_candidates} evaluation candidates from (--num_candidates)")
    users = torch.arange(split.n_users)
    return sample_distinct_excluding(users, num_candidates, split.n_items, observed,
                                     pcg64_draw(CANDIDATE_SEED_OFFSET + loo_seed), chunk_rows=chunk_users).numpy()


def checksum(candidates):
    return hashlib.sha256(np.ascontiguousarray(candidates, dtype="<i4").tobytes()).hexdigest()


def load_or_sample_candidates(split, loo_seed, num_candidates, cache_dir):
    """The cached candidates when their key and checksum match, else sampled and cached."""
    key = {"dataset": split.name, "split": split.fingerprint, "LOO_seed": loo_seed,
           "num_candidates": num_candidates}
    path = os.path.join(cache_dir, split.name, f"candidates_LOO{loo_seed}_{split.fingerprint}_{num_candidates}.npz")
    if os.path.isfile(path):
        try:
            with np.load(path) as stored:
                stored_key = json.loads(str(stored["key"]))
                candidates = stored["candidates"]
                stored_sum = str(stored["checksum"])
        except Exception as err:   # a truncated or corrupted file: BadZipFile, EOFError, ValueError...
            raise InputError(f"{path}: unreadable candidate cache ({type(err).__name__}); delete it "
                             "to resample") from None
        if stored_key != key or checksum(candidates) != stored_sum:
            raise InputError(f"{path}: candidate cache does not match this split (key or checksum); "
                             "delete it to resample")
        return candidates.astype(np.int64)
    candidates = sample_candidates(split, loo_seed, num_candidates)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, candidates=candidates.astype(np.int32), key=json.dumps(key, sort_keys=True),
                     checksum=checksum(candidates))
    return candidates
