"""Each row's highest-scoring unobserved columns (the teacher's ranking lists, a student's own ranking), in
chunks of rows so that no [rows x columns] score matrix ever exists."""
import torch


@torch.no_grad()
def top_unobserved_by(score_rows, n_rows, pointer, observed, length, device, chunk=512, with_scores=False):
    """For each row, the ``length`` highest-scoring columns it has not observed, best first.

    score_rows(rows [B]) -> scores [B, n_cols]; (pointer, observed): CSR of each row's observed
    columns. Rows go in chunks, so no [n_rows, n_cols] matrix exists. -> [n_rows, length] int64
    (and their scores [n_rows, length] when ``with_scores``).
    """
    out = torch.empty((n_rows, length), dtype=torch.int64, device=device)
    values = torch.empty((n_rows, length), dtype=torch.float32, device=device) if with_scores else None
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        scores = score_rows(torch.arange(start, stop, device=device))              # [B, n_cols]
        lo, hi = pointer[start], pointer[stop]
        lengths = pointer[start + 1:stop + 1] - pointer[start:stop]
        owner = torch.repeat_interleave(torch.arange(stop - start, device=device), lengths)
        scores[owner, observed[lo:hi]] = -torch.inf
        top = torch.topk(scores, length, dim=1, sorted=True)
        out[start:stop] = top.indices
        if with_scores:
            values[start:stop] = top.values
    return (out, values) if with_scores else out


def top_unobserved(query, keys, pointer, observed, length, chunk=512):
    """:func:`top_unobserved_by` for dot-product scores: query [n_q, d] against keys [n_k, d]."""
    return top_unobserved_by(lambda rows: query[rows] @ keys.T, len(query), pointer, observed, length,
                             query.device, chunk)
