"""Shared machinery: data, leave-one-out split, samplers, evaluation, the one training loop, logs."""
