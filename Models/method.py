"""The contract between the training loop and a distillation method (DESIGN.md).

A method owns its extra trainable modules, may resample or anneal at the start of each epoch, and
returns its loss terms already multiplied by their lambda. Plain BPR is the method with no term;
DE-RRD is DE and RRD combined, not a third copy.
"""


class Method:
    """No distillation: the student (or the teacher) trained with BPR alone."""
    name = "BPR"

    def parameters(self):
        """Extra trainable parameters (trained by the same Adam as the embeddings)."""
        return []

    def start_epoch(self, epoch):
        """Called before each epoch's training; returns values to log (e.g. the temperature)."""
        return {}

    def loss(self, batch):
        """batch: Utils.trainer.Batch -> {term name: weighted scalar tensor}."""
        return {}

    def end_epoch(self):
        """Called after each epoch's training; returns statistics to log."""
        return {}

    def describe(self):
        """Lines for the head of the human log (parameter counts, settings)."""
        return []


class Combined(Method):
    """The sum of several methods' terms (DE-RRD = DE + RRD)."""

    def __init__(self, methods):
        self.methods = list(methods)
        self.name = "-".join(m.name for m in self.methods)

    def parameters(self):
        return [p for m in self.methods for p in m.parameters()]

    def start_epoch(self, epoch):
        logged = {}
        for m in self.methods:
            logged.update(m.start_epoch(epoch))
        return logged

    def loss(self, batch):
        terms = {}
        for m in self.methods:
            terms.update(m.loss(batch))
        return terms

    def end_epoch(self):
        stats = {}
        for m in self.methods:
            stats.update(m.end_epoch())
        return stats

    def describe(self):
        return [line for m in self.methods for line in m.describe()]
