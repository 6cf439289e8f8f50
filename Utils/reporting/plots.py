"""Learning curves and result tables from logs/, for the notebook and for the command line.

    python -m Utils.reporting.plots --log_dir logs/citeULike --metric H@5 --out figures/
"""
import argparse
import os

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402

from Utils.errors import InputError, run_cli  # noqa: E402
from Utils.reporting.logs import find_logs, read_log  # noqa: E402
from Utils.paper import KEYS, italic_cell, reference_rows  # noqa: E402
from Utils.registry import PLOT_RUNS, paper_row  # noqa: E402
from Utils.training.evaluation import METRIC_KEYS  # noqa: E402



def load_runs(log_dir, runs=None, original_dir=None):
    """{label: RunLog}: our runs (those present among ``runs``) and the original release's logs."""
    logs = find_logs(log_dir, runs)
    ordered = {name: logs[name] for name in (runs or sorted(logs)) if name in logs}
    if original_dir and os.path.isdir(original_dir):
        for file in sorted(os.listdir(original_dir)):
            if file.endswith(".log"):
                ordered[f"original {file[:-4]}"] = read_log(os.path.join(original_dir, file))
    return ordered


def learning_curves(runs, metric="H@5", split="valid", path=None):
    """One line per run (original logs dashed), the selected epoch marked. -> matplotlib Figure."""
    if not runs:
        raise InputError("no runs to plot")
    if metric not in METRIC_KEYS:
        raise InputError(f"unknown metric {metric!r} (known: {', '.join(METRIC_KEYS)})")
    fig, ax = plt.subplots(figsize=(9, 5.5))
    cutoff = metric.split("@")[1]
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {}
    for label, log in runs.items():
        epochs, values = log.curve(split, metric)
        original = label.startswith("original")
        method = label.removeprefix("original ").replace("IR_RRD", "IR-RRD")
        color = colors.setdefault(method, palette[len(colors) % len(palette)])
        line, = ax.plot(epochs, values, "--" if original else "-", color=color, lw=1.0 if original else 1.4,
                        label=label)
        best = log.final.get("best_epoch", {}).get(cutoff, log.final.get("checkpoint_epoch"))
        if best is not None and best in epochs:
            ax.plot([best], [values[epochs.index(best)]], "o", color=line.get_color(), ms=6)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{split} {metric}")
    ax.set_title(f"{split} {metric} per epoch (dots: selected epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


def results_markdown(runs, keys=KEYS):
    """Our selected test metrics, with the paper's and the original log's numbers beside them."""
    lines = ["| run | selected epoch | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 2)]
    for label, log in runs.items():
        if label.startswith("original") or "test" not in log.final:
            continue
        epoch = log.final.get("checkpoint_epoch")
        lines.append(f"| {label} | {epoch} | " + " | ".join(f"{log.final['test'][k]:.4f}" for k in keys) + " |")
        for ref_label, ref in reference_rows(paper_row(label)).items():
            lines.append(f"| *{ref_label}* | | " + " | ".join(italic_cell(ref[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--log_dir", default="logs/citeULike", help="folder of the JSON-lines logs (one dataset)")
    p.add_argument("--original_dir", default="logs/original",
                   help="folder of the original release's text logs, drawn dashed (skipped when absent)")
    p.add_argument("--metric", default="H@5", choices=METRIC_KEYS, metavar="METRIC",
                   help=f"validation metric plotted per epoch, one of {', '.join(METRIC_KEYS)}")
    p.add_argument("--runs", nargs="+", default=list(PLOT_RUNS), help="log names to plot (those present)")
    p.add_argument("--out", default="figures", help="folder of the figure learning_curves_<metric>.png")
    a = p.parse_args(argv)
    runs = load_runs(a.log_dir, a.runs, a.original_dir)
    path = os.path.join(a.out, f"learning_curves_{a.metric.replace('@', '')}.png")
    learning_curves(runs, a.metric, path=path)
    print(results_markdown(runs))
    print(f"saved {path}")


if __name__ == "__main__":
    run_cli(main)
