"""What saving the resume state costs: the teacher and DE (CiteULike, split seed 0) for a few epochs with
``--resume_every 0`` (a save after every epoch but the last), read back from their final records.

    python benchmarks/resume_cost.py [--epochs 6] [--threads 1] [--teacher_path Saved_models]

Prints, per run: the mean epoch time, the number of saves and their mean duration (gathering the state and
writing it), the resume file's size and the share of the training time that saving every epoch would
take; ``--resume_every auto`` (the default) waits twenty times the last save's duration after each save,
which caps that share at 5% whatever the machine.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(script, flags, epochs, threads, logs):
    name = os.path.splitext(script)[0].removeprefix("main_")
    command = [sys.executable, script, *flags, "--max_epoch", str(epochs + 1), "--resume_every", "0",
               "--num_threads", str(threads), "--device", "cpu", "--quiet", "--log_path", logs,
               "--run_name", f"resume_cost_{name}"]
    process = subprocess.Popen(command, cwd=ROOT)
    resume = os.path.join(logs, "citeULike", f"resume_cost_{name}.resume.pt")
    size = 0
    while process.poll() is None:                  # the file is removed at the end: note its size while it exists
        if os.path.exists(resume):
            size = max(size, os.path.getsize(resume))
        time.sleep(0.5)
    if process.returncode:
        sys.exit(f"{' '.join(command)} failed")
    with open(os.path.join(logs, "citeULike", f"resume_cost_{name}.jsonl")) as f:
        final = json.loads(f.readlines()[-1])["final"]
    piece = final["pieces"][-1]
    return final["mean_epoch_s"], piece.get("saves", 0), piece.get("save_s", 0.0), size


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=6, help="epochs saved after (one more is trained)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads of each run")
    p.add_argument("--teacher_path", default="Saved_models/", help="where DE finds (or trains) its teacher")
    a = p.parse_args()
    logs = tempfile.mkdtemp()
    runs = {"teacher (BPR-MF, dim 200)": ("main_teacher.py", ["--save", "0"]),
            "DE (student dim 20, 30 experts per side)": ("main_DE.py", ["--teacher_path", a.teacher_path])}
    print("| run | mean epoch s | saves | mean save s | resume file MB | save share if every epoch |")
    print("|---|---|---|---|---|---|")
    for label, (script, flags) in runs.items():
        epoch_s, saves, save_s, size = measure(script, flags, a.epochs, a.threads, logs)
        mean_save = save_s / max(saves, 1)
        print(f"| {label} | {epoch_s:.2f} | {saves} | {mean_save:.3f} | {size / 2**20:.1f} | "
              f"{mean_save / (epoch_s + mean_save):.1%} |")


if __name__ == "__main__":
    main()
