"""Shared machinery, by concern: ``tensors`` (primitives), ``data`` (split and candidates),
``training`` (the loop, evaluation, teachers, logs), ``reporting`` (tables and plots); beside them the
registry of methods and runs, the one-line errors and atomic file writes that all of them use."""
