"""Dense-equivalent gradients for large embedding tables, at the cost of the rows a batch touches.

Autograd through ``table[index]`` builds a fresh dense [n, d] gradient every batch. Here a batch
takes rows as leaf tensors, autograd fills their ``.grad`` ([len(index), d]), and those are added
into a persistent dense ``table.grad`` (duplicates accumulate, as with autograd). After the
optimiser step only the touched rows are zeroed again. The optimiser still sees a dense gradient
(zero outside the batch), so Adam with coupled weight decay updates every row exactly as the
original's dense ``nn.Embedding`` did.
"""
import torch


class RowGradients:
    def __init__(self, tables):
        self.tables = list(tables)
        for table in self.tables:
            table.grad = torch.zeros_like(table)
        self._taken = []

    def rows(self, table, index):
        """table [n, d], index [B] -> leaf rows [B, d] whose gradient flows back into ``table.grad``."""
        rows = table.detach()[index].requires_grad_()
        self._taken.append((table, index, rows))
        return rows

    def accumulate(self):
        """After ``backward()``: add each taken block's gradient into its table's gradient."""
        for table, index, rows in self._taken:
            if rows.grad is not None:
                table.grad.index_add_(0, index, rows.grad)

    def clear(self):
        """After the optimiser step: zero the touched rows, forget the blocks."""
        for table, index, _ in self._taken:
            table.grad.index_fill_(0, index, 0.0)
        self._taken.clear()
