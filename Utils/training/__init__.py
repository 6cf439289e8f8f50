"""Running an experiment: flags, the one training loop, evaluation and selection, teachers and their
ranking lists, checkpoints, run names and logs."""
