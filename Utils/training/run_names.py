"""Run names that say what was run: the method's base name, then every flag that differs from its default.

    URRD                      the defaults
    URRD_LOO1_seed2           split seed 1, training seed 2
    URRD_kds_seed1            the KDs toolkit's protocol, training seed 1
    URRD_split_bytime_lr0.01  anything else that changes the result, flag name then value
    NeuMF_URRD                another base model than BPR-MF, first

So a run with another split, lambda or training length never writes over the log of another
configuration. Flags that only say where files go or how fast it runs are left out.
"""
NOT_IN_NAME = {"help", "data_path", "dataset", "device", "num_threads", "flush_denormal", "save_path", "log_path",
               "run_name", "quiet", "teacher_path", "teacher_threads", "save", "resume_every", "restart"}
LOO_ONLY = {"num_candidates", "eval"}       # read by leave-one-out only: never in the name of a held-out split's run
LEADING = {"protocol": "", "LOO_seed": "LOO", "seed": "seed"}      # written first, with these short labels


def format_value(value):
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace(",", "-").replace("@", "")    # --ratios 6,2,2, --select R@50: plain file names


def changed_flags(parser, values, consumed=()):
    """[(dest, value)] of the flags in ``values`` (a dict as parsed) that differ from the parser's
    defaults, leading ones first, then in the parser's order; ``consumed`` ones are already in the base."""
    dests = [a.dest for a in parser._actions]
    ordered = [d for d in LEADING if d in dests] + [d for d in dests if d not in LEADING]
    skip = NOT_IN_NAME | set(consumed) | (LOO_ONLY if values.get("split", "loo") != "loo" else set()) | \
        (set() if values.get("model") == "cml" else {"cml_negatives"})
    return [(d, values[d]) for d in ordered
            if d not in skip and d in values and values[d] != parser.get_default(d)]


def run_name(parser, values, base, consumed=()):
    """``base`` + ``_<label><value>`` for each changed flag (see the module docstring); a base model
    other than the default comes first, as its class name (``NeuMF_DE``)."""
    parts = [base] + [f"{LEADING.get(d, d)}{format_value(v)}"
                      for d, v in changed_flags(parser, values, tuple(consumed) + ("model",))]
    if "model" in values and values["model"] != parser.get_default("model"):
        from Models.zoo import BASE_MODELS
        parts.insert(0, BASE_MODELS[values["model"]].name)
    return "_".join(parts)
