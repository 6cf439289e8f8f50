"""Compare two runs' JSON-lines logs record by record, timings and the pieces a run ran in aside.

    python scripts/compare_logs.py logs/resume_demo/teacher_straight.jsonl logs/resume_demo/teacher_killed_twice.jsonl

Prints how many epoch records differ (and the first few epochs that do, with the largest relative
difference of a loss or metric), whether the final records agree (and, where not, the first few fields
that differ, e.g. one only a newer log format has), and exits 1 when anything differs.
"""
import json
import sys

TIMINGS = {"sample_s", "train_s", "eval_s", "mean_epoch_s", "total_s", "peak_rss_mb", "pieces", "config"}


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def numbers(obj, prefix=""):
    """{dotted key: number} of every number under ``obj``, timings left out."""
    out = {}
    for key, value in (obj.items() if isinstance(obj, dict) else enumerate(obj)):
        if key in TIMINGS:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list)):
            out.update(numbers(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
        else:
            out[name] = repr(value)
    return out


def largest_relative_difference(a, b):
    worst = 0.0
    for key in set(a) | set(b):
        x, y = a.get(key), b.get(key)
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-30))
        elif x != y:
            return float("inf")
    return worst


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    a, b = (read(path) for path in argv)
    epochs_a = [r for r in a if "final" not in r]
    epochs_b = [r for r in b if "final" not in r]
    differing = [(r["epoch"], largest_relative_difference(numbers(r), numbers(s)))
                 for r, s in zip(epochs_a, epochs_b) if numbers(r) != numbers(s)]
    final_a = numbers(a[-1].get("final", {}))
    final_b = numbers(b[-1].get("final", {}))
    print(f"epoch records: {len(epochs_a)} and {len(epochs_b)}; differing: {len(differing)}"
          + (f" (first: {', '.join(f'epoch {e} rel {d:.1e}' for e, d in differing[:5])})" if differing else ""))
    final_diff = sorted(key for key in set(final_a) | set(final_b) if final_a.get(key) != final_b.get(key))
    named = ", ".join(f"{key} ({final_a.get(key, 'absent')} / {final_b.get(key, 'absent')})" for key in final_diff[:5])
    more = f" and {len(final_diff) - 5} more" if len(final_diff) > 5 else ""
    print("final records (selection, test metrics): " + (f"differ in {named}{more}" if final_diff else "identical"))
    return int(bool(differing) or len(epochs_a) != len(epochs_b) or final_a != final_b)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
