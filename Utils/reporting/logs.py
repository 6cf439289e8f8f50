"""Reading run logs: this project's JSON lines and the original release's text format.

Both come back as a :class:`RunLog`: per-epoch records (epoch, loss, valid/test metrics keyed
'H@5', 'N@5', ...) and the final selected results, so the notebook and the plots can overlay them.
"""
import json
import os
import re
from dataclasses import dataclass, field

from Utils.errors import InputError


OTHER_TEACHER = "\u2020"      # how the tables mark a result from another teacher checkpoint than its peers' (a dagger)


@dataclass
class RunLog:
    name: str
    epochs: list                       # [{'epoch', 'loss', 'valid': {...}, 'test': {...}, ...}]
    final: dict = field(default_factory=dict)   # {'valid', 'test', 'best_epoch', 'checkpoint_epoch', ...}
    source: str = ""

    @property
    def teacher(self):
        """The fingerprint of the teacher checkpoint the run learned from (``config.identity``), or None: no
        teacher, or a log from before the fingerprint was recorded."""
        return self.final.get("config", {}).get("identity", {}).get("teacher")

    @property
    def weights(self):
        """The fingerprint of the checkpoint the run saved (what its students record as ``teacher``), or None:
        no checkpoint saved, or a log from before the fingerprint was recorded."""
        return self.final.get("fingerprint")

    def curve(self, split="valid", metric="H@5"):
        """(epochs, values) of one metric over the evaluated epochs."""
        points = [(r["epoch"], r[split][metric]) for r in self.epochs if split in r]
        return [p[0] for p in points], [p[1] for p in points]


def read_jsonl_log(path):
    """A ``*.jsonl`` log of this project."""
    epochs, final = [], {}
    try:
        with open(path) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    raise InputError(f"{path}, line {line_no}: not a JSON object") from None
                if "final" in record:
                    final = record["final"]
                elif "epoch" in record:
                    epochs.append(record)
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    return RunLog(os.path.basename(path).rsplit(".", 1)[0], epochs, final, path)


_EPOCH = re.compile(r"^Epoch \[(\d+)/\d+\], Train Loss: ([-\d.eE+naif]+)")
_METRICS = re.compile(r"^(valid|test) H@(\d+): ([\d.]+), N@\d+: ([\d.]+), M@\d+: ([\d.]+)")
_BEST = re.compile(r"^BEST EPOCH:: (\d+)")


def _original_dict(text):
    """"{'H05': 0.4, 'M05': ..}" -> {'H@5': 0.4, 'M@5': ..}."""
    pairs = re.findall(r"'([HNM])(\d+)': ([\d.]+)", text)
    return {f"{m}@{int(n)}": float(v) for m, n, v in pairs}


def read_text_log(path):
    """A human log in the original release's format (also written by this project)."""
    epochs, final, expect = [], {}, None
    try:
        lines = open(path).read().splitlines()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    for line in lines:
        if m := _EPOCH.match(line):
            epochs.append({"epoch": int(m.group(1)), "loss": float(m.group(2)), "improved": line.rstrip().endswith("*")})
        elif (m := _METRICS.match(line)) and epochs:
            split, n = m.group(1), m.group(2)
            epochs[-1].setdefault(split, {}).update(
                {f"H@{n}": float(m.group(3)), f"N@{n}": float(m.group(4)), f"M@{n}": float(m.group(5))})
        elif m := _BEST.match(line):
            final["checkpoint_epoch"] = int(m.group(1))
        elif line.strip() in ("valid", "test") and "checkpoint_epoch" in final:
            expect = line.strip()
        elif expect and line.startswith("{"):
            final[expect] = _original_dict(line)
            expect = None
    if not epochs:
        raise InputError(f"{path}: no 'Epoch [e/N], Train Loss: ...' lines")
    return RunLog(os.path.basename(path).rsplit(".", 1)[0], epochs, final, path)


def read_log(path):
    """Dispatch on the extension: ``.jsonl`` (this project) or a text log (either format)."""
    return read_jsonl_log(path) if path.endswith(".jsonl") else read_text_log(path)


def find_logs(folder, names=None):
    """{run name: RunLog} for the finished ``*.jsonl`` logs in ``folder`` (optionally only ``names``)."""
    if not os.path.isdir(folder):
        raise InputError(f"no log folder {folder}")
    runs = {}
    for file in sorted(os.listdir(folder)):
        name, ext = os.path.splitext(file)
        if ext == ".jsonl" and (names is None or name in names):
            runs[name] = read_jsonl_log(os.path.join(folder, file))
    return runs
