"""Listeners to a training run's epochs, for whoever runs it from outside (the experiment runner
reports each epoch to Ray Tune through one: Utils/experiments.py).

    with epoch_listener(fn):           # fn(record, saved): after every epoch of every run in the block
        main(argv)

``record`` is the epoch's JSON record as the run's log writes it; ``saved`` is the path of the resume
file when this epoch's state was just saved into it, else None. A listener only observes: what it does
cannot change the run's numbers.
"""
from contextlib import contextmanager

_LISTENERS = []


@contextmanager
def epoch_listener(fn):
    _LISTENERS.append(fn)
    try:
        yield fn
    finally:
        _LISTENERS.remove(fn)


def notify(record, saved=None):
    """Called by the trainer at the end of each epoch."""
    for fn in list(_LISTENERS):
        fn(record, saved)
