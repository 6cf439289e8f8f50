"""Dense-equivalent gradients for large embedding tables, at the cost of the rows a batch touches.

Autograd through ``table[index]`` builds a fresh dense [n, d] gradient every batch. Here a batch
takes rows as leaf tensors, autograd fills their ``.grad`` ([len(index), d]), and those are added
into a persistent dense ``table.grad`` (duplicates accumulate, as with autograd). After the
optimiser step the touched rows are zeroed again (the whole buffer when that is cheaper). The
optimiser still sees a dense gradient (zero outside the batch), so Adam with coupled weight decay
updates every row exactly as the original's dense ``nn.Embedding`` did.
"""
import torch
import torch.nn.functional as F

DENSE_ZERO_FRACTION = 0.125   # zero the whole gradient when more rows than this share were touched


class RowGradients:
    def __init__(self, tables):
        self.tables = list(tables)
        for table in self.tables:
            table.grad = torch.zeros_like(table)
        self._taken = []

    def rows(self, table, index):
        """table [n, d], index [B] -> leaf rows [B, d] whose gradient flows back into ``table.grad``."""
        rows = F.embedding(index, table.detach()).requires_grad_()
        self._taken.append((table, index, rows))
        return rows

    def whole(self, table):
        """The whole table as a leaf [n, d] sharing its storage; its gradient is added into ``table.grad``."""
        leaf = table.detach().requires_grad_()
        self._taken.append((table, None, leaf))
        return leaf

    def add(self, table, index, grad_rows):
        """Add a gradient computed in closed form: grad_rows [B, d] for rows ``index`` [B] of ``table``."""
        table.grad.index_add_(0, index, grad_rows)
        self._taken.append((table, index, None))

    def accumulate(self):
        """After ``backward()``: add each taken block's gradient into its table's gradient."""
        for table, index, rows in self._taken:
            if rows is not None and rows.grad is not None:
                if index is None:
                    table.grad.add_(rows.grad)
                else:
                    table.grad.index_add_(0, index, rows.grad)

    def clear(self):
        """After the optimiser step: zero the touched rows, forget the blocks."""
        touched = {}
        for table, index, _ in self._taken:
            touched.setdefault(id(table), (table, []))[1].append(index)
        for table, indices in touched.values():
            if any(i is None for i in indices) or sum(len(i) for i in indices) > DENSE_ZERO_FRACTION * len(table):
                table.grad.zero_()
            else:
                for index in indices:
                    table.grad.index_fill_(0, index, 0.0)
        self._taken.clear()


def guard_against_direct_use(tables):
    """Make a gradient computed for the tables themselves an error.

    Every legitimate path reaches a table through a detached leaf (``rows``, ``whole``) or adds a
    closed-form gradient, so autograd never computes a gradient for the Parameter itself; if it does,
    code indexed the table directly and the step would silently use stale gradients. -> hook handles."""
    def refuse(grad):
        raise RuntimeError("a loss term indexed a student table directly; take rows through the Batch "
                           "(user_rows, item_rows, item_table, item_scores) so their gradients reach the step")
    return [table.register_hook(refuse) for table in tables]
