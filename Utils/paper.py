"""The numbers to reproduce (the paper's Table 2 and the original release's logs): CiteULike, BPR, phi = 0.1, split seed 0."""

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


# The DE-RRD paper's Table 2, all four columns: H@5, N@5, H@10, N@10 (a transcription). Its Foursquare
# file is not public; data/foursquare is the closest public relative (see its README).
TABLE2_KEYS = ("H@5", "N@5", "H@10", "N@10")
PAPER_TABLE2_ALL = {
    ("citeULike", "bpr"): {"Teacher": (.5135, .3970, .6185, .4310), "Student": (.4441, .3319, .5541, .3691),
                           "RD": (.4533, .3395, .5601, .3740), "CD": (.4550, .3404, .5607, .3746),
                           "DE": (.4817, .3625, .5916, .3977), "RRD": (.4622, .3461, .5703, .3809),
                           "DE-RRD": (.4843, .3632, .5966, .3989)},
    ("citeULike", "neumf"): {"Teacher": (.4790, .3684, .5827, .4020), "Student": (.3867, .2865, .4909, .3202),
                             "RD": (.4179, .3113, .5211, .3444), "CD": (.4025, .2979, .5030, .3306),
                             "DE": (.4079, .2986, .5139, .3328), "RRD": (.4737, .3497, .5800, .3847),
                             "DE-RRD": (.4758, .3518, .5805, .3856)},
    ("foursquare", "bpr"): {"Teacher": (.5598, .4101, .7046, .4571), "Student": (.4869, .3489, .6397, .3984),
                            "RD": (.4932, .3555, .6453, .4045), "CD": (.5006, .3608, .6519, None),
                            "DE": (.5283, .3824, .6810, .4316), "RRD": (.5132, .3722, .6616, .4202),
                            "DE-RRD": (.5308, .3843, .6829, .4336)},
    ("foursquare", "neumf"): {"Teacher": (.5436, .3954, .6906, .4430), "Student": (.4754, .3319, .6343, .3833),
                              "RD": (.4789, .3380, .6368, .3878), "CD": (.4904, .3456, .6477, .3940),
                              "DE": (.4862, .3444, .6413, .3938), "RRD": (.5172, .3621, .6739, .4132),
                              "DE-RRD": (.5193, .3641, .6741, .4139)},
}
