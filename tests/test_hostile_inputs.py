"""Hostile inputs found by trying to break the scripts (issue 19, section 4): each gives one clear line
(or the correct behaviour), never a traceback or a silently wrong file."""
import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import main_teacher
import main_URRD
from planted import planted_flags, write_planted
from Utils.data.dataset import load_split
from Utils.errors import InputError
from Utils.training.checkpoint import read_checkpoint, save_checkpoint
from Utils.training.resume import current_names
from Utils.training.selection import PerCutoffSelection
from Utils.training.trainer import latest_stop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEACHER = ["--teacher_dim", "16", "--percent", "0.5", "--teacher_lr", "0.02"]   # the planted teacher
SHORT = ["--max_epoch", "2"]
RRD = ["--list_len", "4", "--U_K", "2", "--U_L", "10", "--I_K", "2", "--I_L", "10"]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("hostile"))
    write_planted(root)
    return root, planted_flags(root)


def run_script(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def one_line_error(out):
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    return out.stderr.strip().removeprefix("error: ")


# ---- runs of different configurations never share a name -------------------------------------------

def test_a_run_with_another_teacher_does_not_overwrite_the_first_runs_log(planted, tmp_path):
    root, common = planted
    common = common + TEACHER + RRD + ["--run_name", "rrd_run"]
    main_URRD.main(common + SHORT + ["--teacher_path", os.path.join(root, "saved")])
    log = os.path.join(root, "logs", "planted", "rrd_run.jsonl")
    main_URRD.main(common + SHORT + ["--teacher_path", os.path.join(root, "saved")])   # the same again: fine
    first = open(log).read()
    teacher_file = next(f for f in os.listdir(os.path.join(root, "saved", "planted"))
                        if f.startswith("BPR_dim16") and f.endswith(".pt") and ".user_top" not in f)
    stored = read_checkpoint(os.path.join(root, "saved", "planted", teacher_file))
    other = str(tmp_path / "other_teacher" / "planted" / teacher_file)     # same key, other weights
    state = {k: v + 0.01 for k, v in stored["state"].items()}
    save_checkpoint(other, state, stored["key"], {k: v for k, v in stored.items() if k not in ("state", "key")})
    with pytest.raises(InputError, match=r"rrd_run.jsonl is the finished log of another configuration \(teacher"):
        main_URRD.main(common + SHORT + ["--teacher_path", str(tmp_path / "other_teacher")])
    assert open(log).read() == first
    main_URRD.main(common + SHORT + ["--teacher_path", str(tmp_path / "other_teacher"),
                                     "--run_name", "rrd_other_teacher"])
    assert os.path.isfile(os.path.join(root, "logs", "planted", "rrd_other_teacher.jsonl"))


def test_a_run_on_other_data_does_not_overwrite_the_first_runs_log(planted, tmp_path):
    root, common = planted
    main_teacher.main(common + ["--dim", "8"] + SHORT + ["--run_name", "same_name"])
    other = tmp_path / "other"
    shutil.copytree(os.path.join(root, "planted"), other / "planted")
    path = other / "planted" / "interactions.tsv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")                      # one interaction fewer
    flags = common + ["--dim", "8"] + SHORT + ["--run_name", "same_name"]
    flags[flags.index("--data_path") + 1] = str(other)
    with pytest.raises(InputError, match="same_name.jsonl is the finished log of another configuration "
                                         r"\(split_fingerprint"):
        main_teacher.main(flags)
    copy = tmp_path / "copy"                                            # the same data elsewhere: allowed
    shutil.copytree(os.path.join(root, "planted"), copy / "planted")
    flags[flags.index("--data_path") + 1] = str(copy)
    main_teacher.main(flags)


def test_a_log_whose_method_an_older_commit_named_otherwise_is_the_same_configuration(planted):
    """Logs committed before the renames say method 'BPR' for plain training and 'CD-student' / 'CD' for
    student- / teacher-guided CD: rerunning their configuration replaces them; another method does not."""
    root, common = planted
    flags = common + ["--dim", "8"] + SHORT + ["--run_name", "legacy_name"]
    main_teacher.main(flags)
    log = os.path.join(root, "logs", "planted", "legacy_name.jsonl")
    lines = open(log).read().splitlines()
    final = json.loads(lines[-1])
    assert final["final"]["config"]["method"] == "none"
    for recorded, accepted in (("BPR", True), ("CD-student", False)):
        final["final"]["config"]["method"] = recorded
        open(log, "w").write("\n".join(lines[:-1] + [json.dumps(final)]) + "\n")
        if accepted:
            main_teacher.main(flags)
        else:
            with pytest.raises(InputError, match=r"method: 'CD' there, 'none' here"):
                main_teacher.main(flags)


def test_current_names_maps_cd_by_its_guide():
    assert current_names({"method": "CD", "guide": "teacher"})["method"] == "CD-teacher"
    assert current_names({"method": "CD-student", "guide": "student"})["method"] == "CD"
    assert current_names({"method": "CD", "guide": "student"})["method"] == "CD"
    assert current_names({"method": "DE"})["method"] == "DE"


# ---- data -----------------------------------------------------------------------------------------

def write_split(folder, **parts):
    """train/valid/test.tsv of (user, item) rows under ``folder``."""
    folder.mkdir()
    for part, rows in parts.items():
        (folder / f"{part}.tsv").write_text("user\titem\n" + "".join(f"{u}\t{i}\n" for u, i in rows))


def test_split_ids_with_holes_are_renumbered_with_a_note(tmp_path, capsys):
    write_split(tmp_path / "holes", train=[(0, 0), (0, 1), (1, 1), (1, 100000)], valid=[(0, 100000), (1, 0)],
                test=[(0, 7), (1, 7)])
    split = load_split(str(tmp_path), "holes", 0)
    assert "item ids renumbered 0..3 (4 distinct ids up to 100000)" in capsys.readouterr().err
    assert split.n_items == 4 and "renumbered" in split.source
    assert list(split.valid_item) == [3, 0] and list(split.test_item) == [2, 2]
    assert np.array_equal(split.train_items, [0, 1, 1, 3])


def test_contiguous_split_ids_are_left_alone(tmp_path, capsys):
    write_split(tmp_path / "fixed", train=[(0, 0), (0, 1), (1, 1), (1, 2)], valid=[(0, 2), (1, 0)],
                test=[(0, 3), (1, 3)])
    split = load_split(str(tmp_path), "fixed", 0)
    assert split.n_items == 4 and "renumbered" not in split.source + capsys.readouterr().err


# ---- flags ----------------------------------------------------------------------------------------

def test_one_candidate_warns_and_prints_no_paper_comparison(planted):
    root, common = planted
    flags = common + ["--dim", "8"] + SHORT + ["--run_name", "one_candidate"]
    flags[flags.index("--num_candidates") + 1] = "1"
    out = run_script("main_teacher.py", *flags)
    assert out.returncode == 0, out.stderr
    assert "WARNING: --num_candidates 1: each held-out item is ranked among 2 items, so H@5/10/20 = 1" in out.stderr
    log = open(os.path.join(root, "logs", "planted", "one_candidate.log")).read()
    assert "WARNING: --num_candidates 1" in log and "no comparison with its numbers" in log
    assert "paper" not in log.split("BEST EPOCH::")[1]


def test_only_the_papers_protocol_is_set_beside_the_papers_numbers():
    from Utils.training.config import protocol_notes
    assert protocol_notes(SimpleNamespace(num_candidates=499, eval="sampled")) == []
    assert protocol_notes(SimpleNamespace(num_candidates=499, eval="both")) == []
    full, = protocol_notes(SimpleNamespace(num_candidates=499, eval="full"))
    assert full.startswith("NOTE: not the paper's protocol")
    warning, note = protocol_notes(SimpleNamespace(num_candidates=9, eval="sampled"))
    assert warning.endswith("ranked among 10 items, so H@10/20 = 1 by construction") and note.startswith("NOTE")


@pytest.mark.parametrize("flags, message", [
    (["--es_epoch", "5", "--max_epoch", "5"], "--es_epoch 5 must be below --max_epoch 5"),
    (["--run_name", "sub/dir"], "--run_name 'sub/dir': a plain file name"),
    (["--run_name", "../up"], "--run_name '../up': a plain file name"),
    (["--device", "xla"], "--device xla: not supported"),
    (["--device", "cuda:7"], "--device cuda:7: "),
])
def test_bad_run_flags_give_one_line(planted, flags, message):
    out = run_script("main_teacher.py", *planted[1], "--dim", "8", *flags)
    assert one_line_error(out).startswith(message) and "\n" not in one_line_error(out)


@pytest.mark.skipif(hasattr(torch.backends, "mps") and torch.backends.mps.is_available(), reason="MPS present")
def test_mps_without_mps_gives_one_line(planted):
    out = run_script("main_teacher.py", *planted[1], "--dim", "8", "--device", "mps")
    assert one_line_error(out) == "--device mps: MPS is not available in this torch build or on this machine"


# ---- reporting ------------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["bogus", "H@7"])
def test_plots_refuse_an_unknown_metric(metric):
    out = run_script("-m", "Utils.reporting.plots", "--metric", metric, "--out", "/nonexistent/never")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"--metric: invalid choice: '{metric}'" in out.stderr


def test_table2_refuses_a_missing_log_root(tmp_path):
    out = run_script("-m", "Utils.reporting.table2", "--log_root", str(tmp_path / "nonexistent"))
    assert one_line_error(out).endswith("nonexistent: no log folder of citeULike or foursquare in it")
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("module", ["Utils.reporting.plots", "Utils.reporting.table2", "Utils.reporting.results"])
def test_reporting_help_describes_every_flag_with_its_default(module):
    out = run_script("-m", module, "--help")
    assert out.returncode == 0
    options = " ".join(out.stdout.split()).split("options:")[1]
    for flag in re.findall(r"(--\w+)", options):
        if flag != "--help":
            assert re.search(rf"{flag}\b[^-]*?\w+ .*?\(default: ", options), flag


# ---- the progress bar -----------------------------------------------------------------------------

def test_the_bar_total_is_the_latest_stop_not_max_epoch():
    cfg = SimpleNamespace(max_epoch=1000, es_epoch=0, early_stop=20, eval_every=1)
    selection = PerCutoffSelection(20)
    assert latest_stop(cfg, selection) == 21                 # the first evaluation always improves
    selection.last_improved_epoch = 230
    assert latest_stop(cfg, selection) == 251                # the teacher's log: 251 epochs run
    selection.last_improved_epoch = 995
    assert latest_stop(cfg, selection) == 1000
    every_ten = SimpleNamespace(max_epoch=1000, es_epoch=0, early_stop=5, eval_every=10)
    selection.last_improved_epoch = 40                       # HetComp's rule: 5 evaluations, 10 epochs apart
    assert latest_stop(every_ten, selection) == 91           # epochs 0..90 run; 50..90 evaluated, none improving


def test_a_terminal_shows_one_bar_labelled_with_the_run(planted):
    """In a pseudo-terminal (as under tmux or screen): the bar says the run's name, and the log lines
    echoed to stdout never leave a bar on a line of their own or share one."""
    root, common = planted
    flags = [f for f in common if f != "--quiet"] + ["--dim", "8", "--max_epoch", "6", "--run_name", "bar_run"]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))      # 40 rows, 120 columns
    process = subprocess.Popen([sys.executable, "main_teacher.py", *flags], cwd=ROOT, stdin=slave, stdout=slave,
                               stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        try:
            data = os.read(master, 65536) if ready else b""
        except OSError:
            data = b""
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=60)
    os.close(master)
    text = b"".join(chunks).decode(errors="replace")
    assert process.returncode == 0, text
    shown = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line).rstrip("\r").split("\r")[-1] for line in text.split("\n")]
    assert "bar_run:" in text and "none:" not in text
    assert not [line for line in shown if "bar_run:" in line and "%|" in line], shown
    assert sum(line.startswith("Epoch [") for line in shown) == 6
