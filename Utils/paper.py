"""The numbers to reproduce (REFERENCE section 6): CiteULike, BPR, phi = 0.1, split seed 0."""

KEYS = ("H@5", "N@5", "M@5", "H@10", "N@10", "H@20", "N@20")

PAPER_TABLE2 = {   # paper, Table 2 (from a transcription)
    "teacher": (0.5135, 0.3970, 0.3583, 0.6185, 0.4310, 0.7099, 0.4541),
    "student": (0.4441, 0.3319, 0.2949, 0.5541, 0.3691, 0.6557, 0.3906),
    "DE": (0.4817, 0.3625, 0.3230, 0.5916, 0.3977, 0.6917, 0.4229),
    "URRD": (0.4622, 0.3461, 0.3076, 0.5703, 0.3809, 0.6746, 0.4074),
    "DERRD": (0.4843, 0.3632, 0.3231, 0.5966, 0.3989, 0.6991, 0.4251),
    "RD": (0.4533, 0.3395, None, 0.5601, 0.3740, None, None),      # only H/N@5 and @10 transcribed
    "CD": (0.4550, 0.3404, None, 0.5607, 0.3746, None, None),
}

ORIGINAL_LOGS = {  # the original release's logs: (best epoch, metrics)
    "student": (376, (0.4486, 0.3353, 0.2978, 0.5559, 0.3686, 0.6584, 0.3966)),
    "DE": (253, (0.4773, 0.3595, 0.3205, 0.5796, 0.3933, 0.6729, 0.4149)),
    "URRD": (365, (0.4698, 0.3554, 0.3175, 0.5727, 0.3879, 0.6679, 0.4132)),
    "IR_RRD": (174, (0.4947, 0.3747, 0.3349, 0.5951, 0.4072, 0.6915, 0.4263)),
}


def italic_cell(value):
    """A markdown cell of a published number: *0.4533*, or - where it was not published."""
    return "-" if value is None else f"*{value:.4f}*"


def reference_rows(kind):
    """{'paper': {metric: v}, 'original log': {...}} for a run kind, where known."""
    rows = {}
    if kind is None:
        return rows
    if kind in PAPER_TABLE2:
        rows["paper"] = dict(zip(KEYS, PAPER_TABLE2[kind]))
    if kind in ORIGINAL_LOGS:
        rows["original log"] = dict(zip(KEYS, ORIGINAL_LOGS[kind][1]))
    return rows


def comparison_lines(kind, test_metrics, dataset="citeULike"):
    """A small text table: our test metrics beside the paper's and the original log's (those are
    CiteULike numbers, so other datasets get our row alone)."""
    rows = {"ours": test_metrics, **(reference_rows(kind) if dataset == "citeULike" else {})}
    lines = [f"{'':14s}" + "".join(f"{k:>8s}" for k in KEYS)]
    for label, metrics in rows.items():
        lines.append(f"{label:14s}" + "".join(f"{metrics[k]:8.4f}" if metrics[k] is not None else f"{'-':>8s}"
                                              for k in KEYS))
    return lines
