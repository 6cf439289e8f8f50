"""Nothing silently wrong: diverged models, half-trained teachers, clobbered logs, foreign checkpoints
and malformed input each stop with one clear line instead of a plausible-looking result."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import main_DE
import main_teacher
import main_URRD
from Models.BPR import BPR
from planted import planted_flags, write_planted
from Utils.data.candidates import load_or_sample_candidates
from Utils.training.checkpoint import read_checkpoint
from Utils.training.config import DEFAULT_LOG_PATH, common_parser
from Utils.data.dataset import load_split
from Utils.errors import InputError
from Utils.training.evaluation import Evaluator
from Utils.paper import comparison_lines
from Utils.training.run_names import run_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEACHER = ["--teacher_dim", "16", "--percent", "0.5", "--teacher_lr", "0.02"]   # the planted teacher


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("reliability"))
    write_planted(root)
    common = planted_flags(root)
    return root, common


def run_script(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


# ---- wrong answers that look right ---------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--lr", "--reg"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_flags_are_refused(planted, flag, value):
    with pytest.raises(InputError, match=f"{flag} must be a finite number"):
        main_teacher.main(planted[1] + [flag, value])


def test_non_finite_method_weight_is_refused(planted):
    with pytest.raises(InputError, match="--URRD_lmbda must be a finite number"):
        main_URRD.main(planted[1] + ["--URRD_lmbda", "nan"])


def test_a_diverging_run_stops_with_a_message_and_writes_no_log(planted):
    root, common = planted
    out = run_script("main_teacher.py", *common, "--dim", "8", "--lr", "1e30", "--max_epoch", "5",
                     "--run_name", "diverging")
    assert out.returncode == 3, out.stderr
    assert out.stderr.startswith("diverged: epoch ") and "Traceback" not in out.stderr
    assert not os.path.exists(os.path.join(root, "logs", "planted", "diverging.jsonl"))


def test_nan_scores_rank_last_and_are_counted(planted):
    root, _ = planted
    split = load_split(root, "planted", 0)
    candidates = load_or_sample_candidates(split, 0, 20, os.path.join(root, "saved"))
    evaluator = Evaluator(split, candidates, torch.device("cpu"), mode="both")
    model = BPR(split.n_users, split.n_items, 4)
    with torch.no_grad():
        model.user_emb.fill_(float("nan"))
    results, ranks = evaluator.evaluate(model)
    assert results["test"]["H@20"] == 0.0 and results["test_full"]["H@20"] == 0.0
    assert int(ranks["test"].min()) == 21                      # behind all 20 candidates
    assert evaluator.nonfinite_scores == 22 * split.n_users     # valid, test and 20 candidates, all nan


def test_comparison_lines_show_paper_numbers_for_citeulike_only():
    metrics = {k: 0.5 for k in ("H@5", "N@5", "M@5", "H@10", "N@10", "H@20", "N@20")}
    assert len(comparison_lines("DE", metrics, "citeULike")) == 4          # header, ours, paper, original log
    assert len(comparison_lines("DE", metrics, "ml-100k")) == 2            # header, ours


# ---- the automatic teacher and the names of runs -------------------------------------------------

def test_automatic_teacher_uses_the_teacher_settings_not_the_runs(planted):
    root, common = planted
    saved = os.path.join(root, "auto_teacher")
    main_DE.main(common + TEACHER + ["--teacher_path", saved, "--max_epoch", "2", "--batch_size", "32"])
    files = [f for f in os.listdir(os.path.join(saved, "planted")) if f.endswith(".pt")]
    assert len(files) == 1 and "max_epoch" not in files[0]
    stored = read_checkpoint(os.path.join(saved, "planted", files[0]))
    assert stored["key"]["max_epoch"] == 1000 and stored["key"]["batch_size"] == 1024
    assert stored["epochs_run"] > 2 and stored["stopped"] == "early_stop"


def test_automatic_teacher_trains_on_its_own_thread_count(planted):
    """--teacher_threads 1 with --num_threads 2: the missing teacher trains on one thread (its log says
    so), the student on two; neither the run's name nor the teacher's checkpoint name depends on it."""
    root, common = planted
    saved = os.path.join(root, "teacher_threads")
    before = torch.get_num_threads()
    logs = os.path.join(saved, "logs")
    flags = common + TEACHER + ["--teacher_path", saved, "--log_path", logs, "--max_epoch", "1", "--num_threads", "2"]
    result = main_DE.main(flags + ["--teacher_threads", "1"])
    logs = os.path.join(logs, "planted")
    teacher_log = [f for f in os.listdir(logs) if f.startswith("BPR_dim16") and f.endswith(".jsonl")]
    assert len(teacher_log) == 1, teacher_log
    threads = lambda path: [p["threads"] for p in json.loads(open(path).readlines()[-1])["final"]["pieces"]]  # noqa: E731
    assert threads(os.path.join(logs, teacher_log[0])) == [1]
    assert [p["threads"] for p in result.final["pieces"]] == [2]
    assert [f for f in os.listdir(logs) if f.endswith(".jsonl") and f != teacher_log[0]] == [
        os.path.basename(result.checkpoint_path).replace(".student.pt", ".jsonl")]     # no "threads" in the name
    assert "threads" not in result.checkpoint_path
    assert len([f for f in os.listdir(os.path.join(saved, "planted")) if f.endswith(".pt")]) == 1
    torch.set_num_threads(before)
    with pytest.raises(InputError, match="--teacher_threads must be non-negative"):
        main_DE.main(flags + ["--teacher_threads", "-1"])


def test_a_teacher_trained_otherwise_is_announced(planted, capsys):
    root, common = planted
    short = main_teacher.main(common + ["--dim", "16", "--max_epoch", "2", "--run_name", "short_teacher"])
    assert "max_epoch2" in os.path.basename(short.checkpoint_path)
    main_DE.main(common + TEACHER + ["--max_epoch", "1",
                           "--teacher_path", short.checkpoint_path])
    err = capsys.readouterr().err
    assert "WARNING: this teacher was trained with batch_size 64 (default 1024), max_epoch 2 (default 1000)" in err
    assert "stopped at its epoch limit" in err


def test_run_names_carry_every_changed_flag():
    parser = common_parser("x", dim=None)
    parser.add_argument("--URRD_lmbda", type=float, default=1e-3)
    values = vars(parser.parse_args(["--split_by", "time", "--URRD_lmbda", "0.01", "--seed", "2",
                                     "--LOO_seed", "1", "--device", "cpu", "--log_path", "x/"]))
    assert run_name(parser, values, "URRD") == "URRD_LOO1_seed2_split_bytime_URRD_lmbda0.01"
    assert run_name(parser, vars(parser.parse_args([])), "URRD") == "URRD"


def test_user_runs_do_not_write_into_the_reference_logs():
    assert DEFAULT_LOG_PATH == "runs/" and common_parser("x").get_default("log_path") == "runs/"
    assert "runs/" in open(os.path.join(ROOT, ".gitignore")).read().split()


# ---- foreign code and outputs checked before training --------------------------------------------

class RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_checkpoint_is_refused_without_running_its_code(planted, tmp_path):
    root, common = planted
    marker = tmp_path / "pwned"
    evil = RunsCode()
    evil.marker = str(marker)
    path = str(tmp_path / "evil.pt")
    torch.save({"key": {}, "state": evil}, path)
    out = run_script("main_DE.py", *common, "--teacher_path", path)
    assert out.returncode == 2 and "refusing to unpickle" in out.stderr
    assert not marker.exists()


def test_teacher_path_naming_a_file_without_pt_is_read_as_a_checkpoint(planted, tmp_path):
    root, common = planted
    teacher = main_teacher.main(common + ["--dim", "16", "--run_name", "plain_teacher"])
    renamed = tmp_path / "teacher_checkpoint"
    renamed.write_bytes(open(teacher.checkpoint_path, "rb").read())
    result = main_DE.main(common + TEACHER + ["--max_epoch", "1",
                                    "--teacher_path", str(renamed)])
    assert result.final["epochs_run"] == 1
    assert 50 < result.final["peak_rss_mb"] < 64 * 1024          # a torch process, in MiB (not KiB or bytes)


@pytest.mark.parametrize("flag", ["--log_path", "--save_path"])
def test_unwritable_outputs_stop_before_training(planted, tmp_path, flag):
    root, common = planted
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    args = [a for a in common]
    args[args.index(flag) + 1] = str(blocker)
    out = run_script("main_teacher.py", *args, "--dim", "8")
    assert out.returncode == 2 and out.stderr.startswith(f"error: {flag}: cannot write into")
    assert "Epoch" not in out.stdout


def test_corrupted_candidate_cache_gives_one_line(planted, tmp_path):
    root, common = planted
    split = load_split(root, "planted", 0)
    cache = str(tmp_path / "cache")
    load_or_sample_candidates(split, 0, 20, cache)
    path = os.path.join(cache, "planted", os.listdir(os.path.join(cache, "planted"))[0])
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(InputError, match="delete it to resample"):
        load_or_sample_candidates(split, 0, 20, cache)


@pytest.mark.parametrize("extra, message", [
    (["--list_len", "500"], "--list_len 500 must be below the number of items"),
    (["--list_len", "4", "--U_K", "10"], "--U_K and --I_K must not exceed --list_len"),
    (["--list_len", "4", "--U_T", "0"], "--U_T must be positive"),
    (["--percent", "0.01"], "gives a student of dim 0"),
])
def test_rrd_and_student_size_flags(planted, extra, message):
    root, common = planted
    teacher = main_teacher.main(common + ["--dim", "16", "--run_name", "flags_teacher"])
    with pytest.raises(InputError, match=message):
        main_URRD.main(common + TEACHER + ["--teacher_path", teacher.checkpoint_path] + extra)


# ---- fixed split files ---------------------------------------------------------------------------

GOOD = {"train": "user\titem\n0\t0\n0\t1\n1\t1\n1\t2\n", "valid": "user\titem\n0\t2\n1\t0\n",
        "test": "user\titem\n0\t3\n1\t3\n"}


@pytest.mark.parametrize("part, text, message", [
    ("train", "user\titem\n", "train.tsv: no interactions after the header"),
    ("valid", "user\titem\n", "valid.tsv: no interactions after the header"),
    ("train", "user\titem\n0\t0\t5\n", "train.tsv, line 2: expected two integer ids"),
    ("train", GOOD["train"] + "0\t1\n", "train.tsv, line 6: user 0 item 1 appears twice"),
    ("test", "user\titem\n0\t3\n2\t3\n", "test.tsv, line 3: user 2 has no training interactions"),
    ("valid", "user\titem\n0\t1\n1\t0\n", "valid.tsv, line 2: user 0 item 1 is also in train.tsv"),
    ("test", "user\titem\n0\t2\n1\t3\n", "user 0 has the same valid and test item"),
])
def test_fixed_split_violations_name_file_and_line(tmp_path, part, text, message):
    folder = tmp_path / "fixed"
    folder.mkdir()
    for name, content in GOOD.items():
        (folder / f"{name}.tsv").write_text(text if name == part else content)
    with pytest.raises(InputError, match=message):
        load_split(str(tmp_path), "fixed", 0)


def test_a_valid_fixed_split_loads(tmp_path):
    folder = tmp_path / "fixed"
    folder.mkdir()
    for name, content in GOOD.items():
        (folder / f"{name}.tsv").write_text(content)
    split = load_split(str(tmp_path), "fixed", 0)
    assert split.n_train == 4 and list(split.valid_item) == [2, 0] and list(split.test_item) == [3, 3]
    assert np.array_equal(split.train_items, [0, 1, 1, 2])


@pytest.mark.parametrize("script", ["main_teacher.py", "main_DE.py", "main_URRD.py", "main_DERRD.py"])
def test_help_shows_every_default_and_no_unused_flag(script):
    out = run_script(script, "--help")
    usage, text = " ".join(out.stdout.split()).split("options:")
    assert out.returncode == 0
    for flag in ("--lr", "--batch_size", "--max_epoch", "--dataset"):
        described = re.search(rf"{flag} [A-Z_]+ (.*?)\(default: ", text).group(1)
        assert not re.search(r"--\w+ [A-Z_]+ ", described), flag      # the default is this flag's
    assert ("--dim DIM" in usage) == (script == "main_teacher.py")


def test_files_written_atomically_follow_the_users_umask(tmp_path):
    from Utils.atomic import write_text_atomic
    old = os.umask(0o022)
    try:
        write_text_atomic(str(tmp_path / "table.md"), "x")
        os.umask(0o027)
        write_text_atomic(str(tmp_path / "other.md"), "x")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "table.md").st_mode & 0o777 == 0o644
    assert os.stat(tmp_path / "other.md").st_mode & 0o777 == 0o640


def test_ranking_list_caches_of_another_teacher_or_damaged_are_computed_again(tmp_path, capsys):
    from test_method_contract import toy_split
    from Utils.training.ranking_lists import load_or_compute_lists
    split = toy_split()
    torch.manual_seed(0)
    teacher = BPR(split.n_users, split.n_items, 8)
    path = str(tmp_path / "teacher.pt")
    key = {"model": "BPR"}
    first = load_or_compute_lists(teacher, key, path, split, "user", 5, torch.device("cpu"))
    cache = str(tmp_path / "teacher.user_top5.pt")
    assert torch.equal(load_or_compute_lists(teacher, key, path, split, "user", 5, torch.device("cpu")), first)
    assert "computing them again" not in capsys.readouterr().err
    retrained = BPR(split.n_users, split.n_items, 8)                      # same settings, other weights
    again = load_or_compute_lists(retrained, key, path, split, "user", 5, torch.device("cpu"))
    assert "not this teacher's user lists" in capsys.readouterr().err and not torch.equal(again, first)
    stored = torch.load(cache, weights_only=True)
    for damage in ("out of range", "zeroed", "truncated"):
        bad = dict(stored)
        if damage == "out of range":
            bad["state"] = stored["state"].clone()
            bad["state"][0, 0] = 10 ** 9
        elif damage == "zeroed":
            bad["state"] = torch.zeros_like(stored["state"])
        else:
            bad["state"] = stored["state"][:3]
        torch.save(bad, cache)
        lists = load_or_compute_lists(retrained, key, path, split, "user", 5, torch.device("cpu"))
        assert "computing them again" in capsys.readouterr().err, damage
        assert torch.equal(lists, again)


def test_flush_denormal_sets_the_cpu_mode_and_changes_neither_name_nor_numbers(planted):
    """--flush_denormal 1 (the default) makes a subnormal product zero, 0 keeps it; the run's name and
    its logged numbers are the same either way (no subnormal matters to them)."""
    root, common = planted
    subnormal = lambda: (torch.tensor([1e-30]) * torch.tensor([1e-15])).item()    # noqa: E731  ~1e-45
    finals = {}
    try:
        for flag in (0, 1):
            logs = os.path.join(root, f"flush{flag}")
            result = main_teacher.main(common + ["--log_path", logs, "--max_epoch", "2", "--save", "0",
                                                 "--flush_denormal", str(flag)])
            assert (subnormal() == 0.0) == bool(flag)
            names = [f for f in os.listdir(os.path.join(logs, "planted")) if f.endswith(".jsonl")]
            finals[flag] = (names, result.final["test"], result.final["valid"])
    finally:
        torch.set_flush_denormal(True)
    assert finals[0] == finals[1]
    assert len(finals[1][0]) == 1                                     # one log, one name
