"""The two logs of a run: the original's human format and one JSON object per epoch.

Both are written as ``<name>.log.<pid>.part`` / ``<name>.jsonl.<pid>.part`` while the run goes and
renamed to their final names when it ends, so a crashed run never overwrites a finished log, and two
processes that happen to run under the same name (say, two scripts that both train a missing teacher)
never write into one file: the last to finish wins, whole.
"""
import json
import os
import re
import sys

from tqdm import tqdm



def _by_cutoff(metrics):
    """{'H@5': .., 'N@5': .., 'R@10': ..} -> {5: ['H', 'N'], 10: ['R']}, cut-offs ascending, names in order."""
    groups = {}
    for key in metrics:
        name, _, k = key.partition("@")
        groups.setdefault(int(k), []).append(name)
    return dict(sorted(groups.items()))


def _human_metrics(prefix, metrics):
    return [f"{prefix} " + ", ".join(f"{m}@{n}: {metrics[f'{m}@{n}']:.4f}" for m in names)
            for n, names in _by_cutoff(metrics).items()]


def original_style_dict(metrics):
    """{'H@5': ..} -> the original's {'H05': .., 'M05': .., 'N05': ..} (4 decimals; names sorted per cut-off)."""
    return {f"{m}{n:02d}": round(metrics[f"{m}@{n}"], 4) for n, names in _by_cutoff(metrics).items()
            for m in sorted(names)}


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_parts(folder, name):
    """Remove the ``<name>.{log,jsonl}.<pid>.part`` files of runs whose process is gone (killed or
    crashed runs), saying so; report those of runs still going. -> [removed paths]."""
    pattern = re.compile(rf"^{re.escape(name)}\.(log|jsonl)\.(\d+)\.part$")
    removed = []
    for file in sorted(os.listdir(folder)):
        match = pattern.match(file)
        if not match or int(match.group(2)) == os.getpid():
            continue
        path = os.path.join(folder, file)
        if process_alive(int(match.group(2))):
            print(f"note: {path} belongs to a run still going (pid {match.group(2)})", file=sys.stderr)
        else:
            os.remove(path)
            removed.append(path)
            print(f"note: removed {path}, left by an unfinished earlier run", file=sys.stderr)
    return removed


class RunLogger:
    def __init__(self, folder, name, quiet=False):
        os.makedirs(folder, exist_ok=True)
        clean_stale_parts(folder, name)
        self.paths = {ext: os.path.join(folder, f"{name}.{ext}") for ext in ("log", "jsonl")}
        self.part_suffix = f".{os.getpid()}.part"
        self.files = {ext: open(path + self.part_suffix, "w") for ext, path in self.paths.items()}
        self.written = {"log": [], "jsonl": []}      # every line so far, for a run's resume state
        self.quiet = quiet
        self.name = name

    def _write(self, ext, text):
        self.files[ext].write(text + "\n")
        self.files[ext].flush()
        self.written[ext].append(text)

    def line(self, text=""):
        """A line of the human log, echoed to stdout unless quiet (through tqdm, which lifts a progress
        bar above the line and redraws it below, so a terminal keeps one bar rather than a bar per epoch)."""
        self._write("log", text)
        if not self.quiet:
            tqdm.write(text, file=sys.stdout)
            sys.stdout.flush()

    def record(self, obj):
        self._write("jsonl", json.dumps(obj))

    def state_dict(self):
        """The lines written so far: {'log': [...], 'jsonl': [...]}."""
        return {ext: list(lines) for ext, lines in self.written.items()}

    def load_state_dict(self, state):
        """Replace what this logger wrote with a saved run's lines (resuming it)."""
        for ext, f in self.files.items():
            f.seek(0)
            f.truncate()
            self.written[ext] = []
            for text in state[ext]:
                self._write(ext, text)

    def epoch(self, record, max_epoch):
        """One epoch: the original's lines and one JSON object."""
        star = " *" if record.get("improved") else ""
        extra = "".join(f", {k}: {v:.4g}" for k, v in record.get("schedule", {}).items())
        self.line(f"Epoch [{record['epoch']}/{max_epoch}], Train Loss: {record['loss']:.4f}, "
                  f"Elapsed: train {record['sample_s'] + record['train_s']:.2f} "
                  f"test {record['eval_s']:.2f}{extra}{star}")
        for name in ("valid", "test", "valid_full", "test_full"):
            if name in record:
                for text in _human_metrics(name, record[name]):
                    self.line(text)
                self.line()
        self.record(record)

    def final(self, final):
        self.line(f"BEST EPOCH:: {final['checkpoint_epoch']}")
        for name in ("valid", "test", "valid_full", "test_full"):
            if name in final:
                self.line(name)
                self.line(str(original_style_dict(final[name])))
        self.record({"final": final})

    def close(self, finished=True):
        """Rename the .part files to their final names (only for a finished run)."""
        for ext, f in self.files.items():
            f.close()
            if finished:
                os.replace(self.paths[ext] + self.part_suffix, self.paths[ext])
