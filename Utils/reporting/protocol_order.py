"""Each method's place under each protocol: does full ranking on held-out sets order the methods as the
paper's leave-one-out protocol does? (docs/protocols.md)

    python -m Utils.reporting.protocol_order                 # every method with runs under loo and another protocol

For each method, its multi-seed test number under each protocol (``Utils.reporting.multiseed``: the mean over
training seeds within a split, then over splits) on that protocol's headline metric (loo: H@5; kds: N@10;
hetcomp: R@50), its rank among the methods with runs under that protocol, and Kendall's tau between the loo
order and each other protocol's over the methods both have. Run names: ``<method>`` (loo, split seeds
0, 1, 2), ``<method>_kds_toolkit`` or ``<method>_kds`` (kds), ``<method>_hetcomp`` (hetcomp), each with
``_seed<s>``. Printed; ``--out FILE`` also writes it (the committed table: ``--out logs/citeULike/protocol_order.md``).
"""
import argparse

from scipy import stats

from Utils.atomic import write_text_atomic
from Utils.errors import InputError, run_cli
from Utils.reporting.multiseed import collect_runs, summary

HEADLINE = {"loo": "H@5", "kds": "N@10", "hetcomp": "R@50"}
METHODS = ("teacher", "student", "URRD", "DE", "DERRD", "RD", "CD", "DCD", "HTD", "FTD", "UnKD", "RCEKD")
LOO_SPLITS = (0, 1, 2)


def protocol_names(method, protocol):
    """The log names a method's runs have under ``protocol``, in the order they are looked for."""
    if protocol == "loo":
        return [method]
    return [f"{method}_{protocol}_toolkit", f"{method}_{protocol}"]


def headline_means(log_dir, methods, protocol, train_seeds=(0, 1, 2, 3, 4)):
    """{method: (mean test headline metric, runs)} of the methods with finished runs under ``protocol``."""
    splits = LOO_SPLITS if protocol == "loo" else (0,)
    out = {}
    for method in methods:
        for name in protocol_names(method, protocol):
            found = collect_runs(log_dir, [name], splits, train_seeds, protocol=protocol)
            if found:
                _, runs, mean, _ = summary(found, (HEADLINE[protocol],))[name]
                out[method] = (float(mean[0]), runs)
                break
    return out


def order_table(by_protocol, methods=METHODS):
    """Markdown: a row per method (value and rank under each protocol), then Kendall's tau against loo."""
    protocols = list(by_protocol)
    methods = [m for m in methods if any(m in by_protocol[p] for p in protocols)]
    ranks = {p: {m: r for r, (m, _) in enumerate(sorted(by_protocol[p].items(), key=lambda kv: -kv[1][0]), 1)}
             for p in protocols}
    lines = ["| method | " + " | ".join(f"{p}: test {HEADLINE[p]} (rank, runs)" for p in protocols) + " |",
             "|" + "---|" * (len(protocols) + 1)]
    for m in methods:
        cells = [f"{by_protocol[p][m][0]:.4f} ({ranks[p][m]}, {by_protocol[p][m][1]})" if m in by_protocol[p] else "-"
                 for p in protocols]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("")
    for p in protocols[1:]:
        common = [m for m in methods if m in by_protocol["loo"] and m in by_protocol[p]]
        if len(common) >= 3:
            tau = stats.kendalltau([ranks["loo"][m] for m in common], [ranks[p][m] for m in common]).statistic
            lines.append(f"Kendall's tau, loo vs {p}, over {len(common)} methods ({', '.join(common)}): {tau:+.2f}")
        else:
            lines.append(f"loo vs {p}: fewer than three methods with runs under both")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--log_dir", default="logs/citeULike", help="folder of the JSON-lines logs (one dataset)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), help="methods (their loo run names)")
    p.add_argument("--out", default=None, help="also write the table to this markdown file (default: print only)")
    a = p.parse_args(argv)
    by_protocol = {protocol: headline_means(a.log_dir, a.methods, protocol) for protocol in HEADLINE}
    if not by_protocol["loo"] or not any(by_protocol[p] for p in ("kds", "hetcomp")):
        raise InputError(f"{a.log_dir}: no methods with finished runs under loo and another protocol")
    by_protocol = {p: v for p, v in by_protocol.items() if v}
    text = order_table(by_protocol, a.methods)
    if a.out:
        write_text_atomic(a.out, text)
    print(text)


if __name__ == "__main__":
    run_cli(main)
