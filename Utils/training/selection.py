"""Model selection and early stopping: per N, as the original release (docs/methods.md, Protocol), or on
one validation metric (the full-ranking protocols, docs/protocols.md).

For each N in (5, 10, 20) the test metrics of the epoch with the best valid HR@N (strict
improvement) are kept. The patience counter grows at each evaluation where no HR@N improved and
resets otherwise; training stops when it reaches ``patience``.
"""


class PerCutoffSelection:
    def __init__(self, patience, cutoffs=(5, 10, 20)):
        self.patience = patience
        self.cutoffs = cutoffs
        self.best_hr = {n: -1.0 for n in cutoffs}
        self.best_epoch = {n: None for n in cutoffs}
        self.best = {n: {} for n in cutoffs}      # n -> {split name: {metric: value}} at that epoch
        self.counter = 0
        self.last_improved_epoch = None

    def update(self, epoch, results):
        """results: {'valid': {...}, 'test': {...}, ...} -> True when any valid HR@N improved."""
        improved = False
        for n in self.cutoffs:
            hr = results["valid"][f"H@{n}"]
            if hr > self.best_hr[n]:
                self.best_hr[n], self.best_epoch[n] = hr, epoch
                self.best[n] = {name: {k: v for k, v in metrics.items() if k.endswith(f"@{n}")}
                                for name, metrics in results.items()}
                improved = True
        self.counter = 0 if improved else self.counter + 1
        if improved:
            self.last_improved_epoch = epoch
        return improved

    def state_dict(self):
        return {"best_hr": dict(self.best_hr), "best_epoch": dict(self.best_epoch), "best": self.best,
                "counter": self.counter, "last_improved_epoch": self.last_improved_epoch}

    def load_state_dict(self, state):
        self.best_hr, self.best_epoch, self.best = state["best_hr"], state["best_epoch"], state["best"]
        self.counter, self.last_improved_epoch = state["counter"], state["last_improved_epoch"]

    @property
    def should_stop(self):
        return self.counter >= self.patience

    def selected(self):
        """{split name: {metric: value}} assembled from each N's best epoch."""
        out = {}
        for n in self.cutoffs:
            for name, metrics in self.best[n].items():
                out.setdefault(name, {}).update(metrics)
        return out


class MetricSelection:
    """Selection on one validation metric (the full-ranking protocols: the KDs toolkit's N@10, HetComp's
    R@50): the epoch with the best validation ``metric`` (strict improvement) gives every reported metric,
    valid and test; the patience counter grows at each evaluation without improvement and resets otherwise."""

    def __init__(self, metric, patience):
        self.metric, self.patience = metric, patience
        self.best_value, self.best_epoch_, self.best = -1.0, None, {}
        self.counter = 0
        self.last_improved_epoch = None

    def update(self, epoch, results):
        """results: {'valid': {...}, 'test': {...}} -> True when the validation metric improved."""
        value = results["valid"][self.metric]
        improved = value > self.best_value
        if improved:
            self.best_value, self.best_epoch_, self.last_improved_epoch = value, epoch, epoch
            self.best = {name: dict(metrics) for name, metrics in results.items()}
        self.counter = 0 if improved else self.counter + 1
        return improved

    @property
    def best_epoch(self):
        return {self.metric: self.best_epoch_}

    def state_dict(self):
        return {"best_value": self.best_value, "best_epoch": self.best_epoch_, "best": self.best,
                "counter": self.counter, "last_improved_epoch": self.last_improved_epoch}

    def load_state_dict(self, state):
        self.best_value, self.best_epoch_, self.best = state["best_value"], state["best_epoch"], state["best"]
        self.counter, self.last_improved_epoch = state["counter"], state["last_improved_epoch"]

    @property
    def should_stop(self):
        return self.counter >= self.patience

    def selected(self):
        """{split name: {metric: value}} at the selected epoch."""
        return {name: dict(metrics) for name, metrics in self.best.items()}
