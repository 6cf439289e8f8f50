"""Exact resume: a run interrupted and continued by the same command equals the run never interrupted.

Every method x base model (the contract test's builders) through the experiment runner on the planted
data: five epochs straight; the same five interrupted twice (in epochs 2 and 4, after the epoch's
steps, before it is logged) and continued; the logs (all but timings), ranks and checkpoint must be
equal, bit for bit. Then real SIGKILLs of entry scripts at random points (a teacher with a trajectory,
DE training its own teacher), and the refusals.
"""
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import main_DE
import main_teacher
from Models.HetComp import HetComp
from Models.method import Method
from Models.zoo import BASE_MODELS, build_model, on_device
from planted import planted_flags, write_planted
from test_method_contract import DOT_PRODUCT_ONLY, METHODS, lists
from Utils.errors import InputError
from Utils.training import trainer
from Utils.training.experiment import new_student, run, setup
from Utils.training.hetcomp import observed_in_teacher_order
from Utils.training.teacher import base_model_parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMINGS = {"sample_s", "train_s", "eval_s", "mean_epoch_s", "total_s", "peak_rss_mb", "pieces"}
EPOCHS = 5


class Interrupted(BaseException):
    """Stands for the process dying: nothing in the code under test catches it."""


def hetcomp_advancing(t, s, g, r, student):
    """HetComp whose advance check runs after every epoch, so its schedule moves during the test."""
    top = lists(t, s, "user")
    trajectories = [torch.stack([top.flip(1), top]), torch.stack([top.roll(1, 1), top])]
    return HetComp(trajectories, observed_in_teacher_order([t], s, 3, 10.0, torch.device("cpu")), s, student,
                   lmbda=1.0, lmbda_final=1.0, K=6, final_top=4, final_sub=2, every=1, ndcg_K=5)


BUILDERS = dict(METHODS, HetComp=None, none=lambda t, s, g, r: Method())
CASES = [(model, name) for model in sorted(BASE_MODELS) for name in sorted(BUILDERS)
         if name != "HetComp_final" and (BASE_MODELS[model].dot_product or name not in DOT_PRODUCT_ONLY)]


@pytest.fixture(scope="module")
def planted_root(tmp_path_factory):
    return write_planted(str(tmp_path_factory.mktemp("resume")))


def train_once(root, model, name, interrupt_at=None):
    """One process's worth of a run of ``name`` on ``model`` under ``root``; ``interrupt_at``: this
    process 'dies' in the next epoch after training this many (after that epoch's steps)."""
    flags = planted_flags(root) + ["--dim", "4", "--max_epoch", str(EPOCHS), "--resume_every", "0",
                                   "--model", model, "--lr", "0.01", "--batch_size", "200"]
    args = base_model_parser("test").parse_args(flags)
    ctx = setup(args)
    teacher = on_device(build_model(model, ctx.split, 8), ctx.split, ctx.device).requires_grad_(False)
    with torch.no_grad():
        for table in teacher.tables():
            table.mul_(100)
    student = new_student(ctx, 4)
    if name == "HetComp":
        method = hetcomp_advancing(teacher, ctx.split, ctx.generator, student.repr_dim, student)
    else:
        method = BUILDERS[name](teacher, ctx.split, ctx.generator, student.repr_dim)
    original, calls = trainer.Steps.run, []

    def steps_then_maybe_die(self, *a, **kw):
        original(self, *a, **kw)
        calls.append(1)
        if interrupt_at is not None and len(calls) == interrupt_at + 1:
            raise Interrupted()
    trainer.Steps.run = steps_then_maybe_die
    try:
        return run(ctx, student, method, f"{model}_{name}",
                   checkpoint_path=os.path.join(root, "saved", f"{model}_{name}.pt"),
                   checkpoint_key={"case": f"{model}_{name}"}, identity={"teacher": "planted"})
    finally:
        trainer.Steps.run = original


def comparable_records(path, root):
    records = []
    for line in open(path):
        record = json.loads(line)
        inner = record.get("final", record)
        for key in TIMINGS:
            inner.pop(key, None)
        if "config" in inner:
            inner["config"] = {k: v for k, v in inner["config"].items() if not isinstance(v, str) or root not in v}
        records.append(record)
    return records


def comparable_human_log(path, root):
    """The human log less its timings and the resume notes."""
    lines = []
    for line in open(path):
        if line.startswith("Resumed after epoch"):
            continue
        lines.append(line.split(", Elapsed:")[0].replace(root, "ROOT"))
    return lines


def assert_same_run(root_a, root_b, name, checkpoint_a, checkpoint_b):
    folder_a, folder_b = (os.path.join(r, "logs", "planted") for r in (root_a, root_b))
    assert comparable_records(os.path.join(folder_a, f"{name}.jsonl"), root_a) == \
        comparable_records(os.path.join(folder_b, f"{name}.jsonl"), root_b)
    assert comparable_human_log(os.path.join(folder_a, f"{name}.log"), root_a) == \
        comparable_human_log(os.path.join(folder_b, f"{name}.log"), root_b)
    ranks_a, ranks_b = (np.load(os.path.join(f, f"{name}.ranks.npz")) for f in (folder_a, folder_b))
    assert sorted(ranks_a) == sorted(ranks_b) and all((ranks_a[k] == ranks_b[k]).all() for k in ranks_a)
    stored_a, stored_b = (torch.load(p, weights_only=True) for p in (checkpoint_a, checkpoint_b))
    assert sorted(stored_a) == sorted(stored_b) and sorted(stored_a["state"]) == sorted(stored_b["state"])
    for key, value in stored_a["state"].items():
        assert torch.equal(value, stored_b["state"][key]), key
    assert {k: v for k, v in stored_a.items() if k != "state"} == {k: v for k, v in stored_b.items() if k != "state"}


@pytest.mark.parametrize("model, name", CASES)
def test_interrupted_twice_and_continued_equals_the_uninterrupted_run(planted_root, tmp_path, model, name):
    straight = os.path.join(str(tmp_path), "straight")
    cut = os.path.join(str(tmp_path), "cut")
    for root in (straight, cut):
        os.makedirs(root)
        os.symlink(os.path.join(planted_root, "planted"), os.path.join(root, "planted"))
    train_once(straight, model, name)
    for _ in range(2):                  # dies in epoch 2, then (resumed after epoch 1) in epoch 4
        with pytest.raises(Interrupted):
            train_once(cut, model, name, interrupt_at=2)
        assert os.path.isfile(os.path.join(cut, "logs", "planted", f"{model}_{name}.resume.pt"))
    result = train_once(cut, model, name)
    pieces = result.final["pieces"]
    assert [(p["first_epoch"], p["last_epoch"]) for p in pieces] == [(0, 1), (2, 3), (4, 4)]
    assert_same_run(straight, cut, f"{model}_{name}", *(os.path.join(r, "saved", f"{model}_{name}.pt")
                                                         for r in (straight, cut)))
    assert not os.path.exists(os.path.join(cut, "logs", "planted", f"{model}_{name}.resume.pt"))


def test_a_method_whose_state_is_not_restored_fails_the_comparison(planted_root, tmp_path, monkeypatch):
    """The test above can fail: DE without its experts in ``carried`` resumes with fresh experts."""
    from Models.DE import DE
    monkeypatch.setattr(DE, "carried", ())
    with pytest.raises(AssertionError):
        test_interrupted_twice_and_continued_equals_the_uninterrupted_run(planted_root, tmp_path, "bpr", "DE")


# ---------------------------------------------------------------------------------------------------
# Real processes killed with SIGKILL at random points


def script(root, name, *flags):
    return [sys.executable, os.path.join(ROOT, name), *planted_flags(root), "--resume_every", "0", *flags]


def kill_repeatedly(command, folder, patterns, seed, spread=1.0):
    """For each glob pattern: start ``command``, wait until this process has saved a resume state that
    matches the pattern in ``folder``, SIGKILL it a random 0-``spread`` s later (before, between or in
    the middle of saves); then let it finish. -> the stderr of every start."""
    rng = random.Random(seed)
    errors = []
    for pattern in patterns:
        started = time.time()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while process.poll() is None and not any(os.path.getmtime(p) > started for p in glob.glob(os.path.join(folder, pattern))):
            time.sleep(0.02)
        time.sleep(rng.random() * spread)
        process.send_signal(signal.SIGKILL)
        errors.append(process.communicate()[1])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return errors + [done.stderr]


TEACHER_FLAGS = ("--dim", "16", "--max_epoch", "500", "--early_stop", "1000", "--trajectory", "3",   # long enough
                 # that three kills 0-0.3 s after a save never come after the end on a fast machine
                 "--trajectory_K", "5", "--run_name", "teacher")


def test_a_teacher_killed_at_random_points_continues_to_the_same_log_checkpoint_and_trajectory(planted_root, tmp_path):
    straight, cut = (str(tmp_path / d) for d in ("straight", "cut"))
    for root in (straight, cut):
        os.makedirs(root)
        os.symlink(os.path.join(planted_root, "planted"), os.path.join(root, "planted"))
    done = subprocess.run(script(straight, "main_teacher.py", *TEACHER_FLAGS), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    errors = kill_repeatedly(script(cut, "main_teacher.py", *TEACHER_FLAGS), os.path.join(cut, "logs", "planted"),
                             ["teacher.resume.pt"] * 3, seed=0, spread=0.3)
    assert sum("resuming teacher after epoch" in e for e in errors) >= 3
    saved = [os.path.join(r, "saved", "planted") for r in (straight, cut)]
    names = sorted(f for f in os.listdir(saved[0]) if f.startswith("BPR_dim16"))
    assert names == sorted(f for f in os.listdir(saved[1]) if f.startswith("BPR_dim16"))
    assert any(".trajectory3_top5" in f for f in names) and not any(f.endswith(".snapshots") for f in names)
    checkpoint = next(f for f in names if "trajectory" not in f)
    assert_same_run(straight, cut, "teacher", *(os.path.join(s, checkpoint) for s in saved))
    trajectories = [torch.load(os.path.join(s, next(f for f in names if "trajectory" in f)), weights_only=True)
                    for s in saved]
    assert trajectories[0]["state"]["epochs"] == trajectories[1]["state"]["epochs"]
    assert torch.equal(trajectories[0]["state"]["items"], trajectories[1]["state"]["items"])
    assert not [f for f in os.listdir(os.path.join(cut, "logs", "planted")) if "part" in f or "resume" in f]


def test_de_killed_while_training_its_own_teacher_and_itself_continues_both(planted_root, tmp_path):
    straight, cut = (str(tmp_path / d) for d in ("straight", "cut"))
    for root in (straight, cut):
        os.makedirs(root)
        os.symlink(os.path.join(planted_root, "planted"), os.path.join(root, "planted"))
    flags = ("--teacher_dim", "16", "--percent", "0.5", "--teacher_lr", "0.02", "--max_epoch", "60",
             "--early_stop", "1000")
    done = subprocess.run(script(straight, "main_DE.py", *flags, "--teacher_path", os.path.join(straight, "saved")),
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    errors = kill_repeatedly(script(cut, "main_DE.py", *flags, "--teacher_path", os.path.join(cut, "saved")),
                             os.path.join(cut, "logs", "planted"), ["BPR_dim16*.resume.pt", "DE*.resume.pt",
                                                                    "DE*.resume.pt"], seed=1, spread=0.1)
    # (spread 0.1 s: the automatic teacher early-stops after some 25 planted epochs, a tenth of a second on
    # a fast machine, and must still be running when it is killed)
    assert "resuming BPR_dim16" in errors[1] and "resuming DE" in errors[3]
    folder = os.path.join(straight, "logs", "planted")
    teacher_log = next(f[:-len(".jsonl")] for f in os.listdir(folder) if f.startswith("BPR_dim16") and f.endswith(".jsonl"))
    saved = [os.path.join(r, "saved", "planted") for r in (straight, cut)]
    teacher_file = next(f for f in os.listdir(saved[0]) if f.startswith("BPR_dim16") and "_top" not in f)
    assert_same_run(straight, cut, teacher_log, *(os.path.join(s, teacher_file) for s in saved))
    de_log = next(f[:-len(".jsonl")] for f in os.listdir(folder) if f.startswith("DE") and f.endswith(".jsonl"))
    assert_same_run(straight, cut, de_log, *(os.path.join(s, f"{de_log}.student.pt") for s in saved))


# ---------------------------------------------------------------------------------------------------
# What is refused


@pytest.fixture
def interrupted_teacher(planted_root, tmp_path):
    """A teacher run interrupted after 3 epochs under tmp_path -> (flags, resume file)."""
    root = str(tmp_path)
    os.symlink(os.path.join(planted_root, "planted"), os.path.join(root, "planted"))
    flags = planted_flags(root) + ["--dim", "8", "--max_epoch", "6", "--resume_every", "0", "--run_name", "t"]
    original, calls = trainer.Steps.run, []

    def die_in_epoch_3(self, *a, **kw):
        calls.append(1)
        if len(calls) == 4:
            raise Interrupted()
        original(self, *a, **kw)
    trainer.Steps.run = die_in_epoch_3
    try:
        with pytest.raises(Interrupted):
            main_teacher.main(flags)
    finally:
        trainer.Steps.run = original
    return flags, os.path.join(root, "logs", "planted", "t.resume.pt")


def test_a_resume_file_of_another_configuration_is_refused_naming_what_differs(interrupted_teacher):
    flags, path = interrupted_teacher
    with pytest.raises(InputError, match=r"t.resume.pt does not match this run \(lr: checkpoint 0.02 vs run 0.03\)"
                                         r".*--restart"):
        main_teacher.main(flags + ["--lr", "0.03"])
    assert os.path.isfile(path)
    result = main_teacher.main(flags + ["--lr", "0.03", "--restart"])           # starts over, says so
    assert [(p["first_epoch"], p["last_epoch"]) for p in result.final["pieces"]] == [(0, 5)]


def test_a_resume_of_another_teacher_is_refused(interrupted_teacher):
    from Utils.training.resume import ResumeFile
    flags, path = interrupted_teacher
    stored = torch.load(path, weights_only=True)
    with pytest.raises(InputError, match="teacher: checkpoint None vs run 'abc'"):
        ResumeFile(path, dict(stored["key"], teacher="abc"))


def test_a_damaged_resume_file_is_refused_with_the_way_out(interrupted_teacher):
    flags, path = interrupted_teacher
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(InputError, match="t.resume.pt: not a readable checkpoint.*--restart"):
        main_teacher.main(flags)


def test_another_commit_continues_with_a_note_and_the_pieces_say_which(interrupted_teacher, capsys):
    flags, path = interrupted_teacher
    stored = torch.load(path, weights_only=True)
    stored["state"]["pieces"][-1]["commit"] = "0000000"
    torch.save(stored, path)
    result = main_teacher.main(flags)
    assert "note: the saved state was written by commit 0000000" in capsys.readouterr().err
    pieces = result.final["pieces"]
    assert [(p["commit"] == "0000000", p["first_epoch"], p["last_epoch"]) for p in pieces] == \
        [(True, 0, 2), (False, 3, 5)]


def test_resume_every_takes_auto_or_seconds():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "main_teacher.py"), "--resume_every", "soon"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--resume_every: expected 'auto' or seconds >= 0, got 'soon'" in out.stderr


def test_the_logged_identity_is_not_a_second_copy_in_the_key():
    """A state saved before the configuration recorded the teacher's fingerprint (``identity``) continues:
    the fingerprint enters the key once, by name."""
    from Utils.training.resume import resume_key
    config = {"lr": 0.001, "commit": "abc"}
    old = resume_key(config, torch.device("cpu"), {"teacher": "f00d"})
    new = resume_key(dict(config, identity={"teacher": "f00d"}), torch.device("cpu"), {"teacher": "f00d"})
    assert new == old == {"lr": 0.001, "device_type": "cpu", "teacher": "f00d"}
    assert resume_key(config, torch.device("cpu"), {"teacher": "beef"}) != old


def test_a_state_whose_key_holds_a_field_that_is_no_longer_keyed_continues(tmp_path):
    from Utils.training.resume import ResumeFile
    key = {"lr": 0.001, "device_type": "cpu", "teacher": "f00d"}
    older = ResumeFile(str(tmp_path / "run.resume.pt"), dict(key, identity={"teacher": "f00d"}))
    older.save({"epoch": 3})
    assert ResumeFile(older.path, key).state == {"epoch": 3}
    with pytest.raises(InputError, match="teacher"):
        ResumeFile(older.path, dict(key, teacher="beef"))
