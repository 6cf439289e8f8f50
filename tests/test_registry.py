"""The registry is the one list of runs: each command names itself as the registry says, each run has
an end-to-end case, and "Adding a method" in the README works when followed literally."""
import importlib
import json
import os
import re

import pytest

from Utils.registry import PLOT_RUNS, RUNS, TABLE_RUNS, main, paper_row

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("name", sorted(RUNS))
@pytest.mark.parametrize("split_seed", [0, 2])
def test_each_registered_command_logs_under_its_registered_name(name, split_seed):
    run = RUNS[name]
    module = importlib.import_module(run.script[:-3])
    assert module.planned_name(run.command(split_seed)[1:]) == run.log_name(split_seed)


@pytest.mark.parametrize("name", ["DE", "NeuMF_teacher_reg0", "NeuMF_URRD_teacher_reg0_URRD_lmbda0.001"])
def test_a_training_seed_goes_where_the_entry_script_writes_it(name):
    run = RUNS[name]
    module = importlib.import_module(run.script[:-3])
    assert module.planned_name(run.command(1)[1:] + ["--seed", "2"]) == run.log_name(1, 2)
    assert run.log_name(1, 2) == {"DE": "DE_LOO1_seed2", "NeuMF_teacher_reg0": "NeuMF_teacher_LOO1_seed2_reg0",
                                  "NeuMF_URRD_teacher_reg0_URRD_lmbda0.001":
                                      "NeuMF_URRD_LOO1_seed2_teacher_reg0_URRD_lmbda0.001"}[name]


def test_list_prints_every_registered_command(capsys):
    main(["list"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(RUNS)
    assert lines[0].split()[:2] == ["teacher", "python"] and "main_TD.py --variant htd" in lines[[
        line.split()[0] for line in lines].index("HTD")]
    with pytest.raises(SystemExit):
        main(["jobs", "DCD"])


def test_every_table_and_plot_run_is_registered_and_has_an_end_to_end_case():
    from Utils.registry import TABLE2_NEUMF
    from test_entry_scripts import CASES
    from test_hetcomp import main_HetComp             # its end-to-end cases live in tests/test_hetcomp.py
    assert set(TABLE2_NEUMF.values()) <= set(RUNS)
    assert set(TABLE_RUNS) <= set(RUNS) and set(PLOT_RUNS) <= set(RUNS)
    scripts = {case[0].__name__ + ".py" for case in CASES.values()} | {main_HetComp.__name__ + ".py"}
    assert {run.script for run in RUNS.values()} <= scripts


def test_paper_rows_follow_split_and_seed_suffixes():
    assert paper_row("DE_LOO2") == "DE" and paper_row("URRD_seed1") == "URRD" and paper_row("other") is None


def test_adding_a_method_as_the_readme_says(tmp_path, monkeypatch):
    """The README's steps, followed literally: a model file, a thin entry script, one registry entry."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme.split("## Adding a method")[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 3, "the section shows the model file, the entry script and the registry entry"
    model, script, entry = blocks
    (tmp_path / "ScoreMatch.py").write_text(model)
    (tmp_path / "main_ScoreMatch.py").write_text(script.replace("from Models.ScoreMatch", "from ScoreMatch"))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = importlib.import_module("Utils.registry")
    run = eval(entry.strip().rstrip(","), {"Run": registry.Run})
    main_score_match = importlib.import_module("main_ScoreMatch")
    assert run.script == "main_ScoreMatch.py" and main_score_match.planned_name(run.command(0)[1:]) == run.name

    from planted import planted_flags, write_planted
    write_planted(str(tmp_path))
    common = planted_flags(str(tmp_path))
    teacher = importlib.import_module("main_teacher").main(common + ["--dim", "16"])
    result = main_score_match.main(common + ["--teacher_dim", "16", "--percent", "0.5", "--teacher_lr", "0.02",
                                             "--teacher_path", teacher.checkpoint_path])
    assert result.final["test"]["H@5"] >= 0.95
    log = [f for f in os.listdir(tmp_path / "logs" / "planted") if f.startswith("ScoreMatch") and f.endswith(".jsonl")]
    first_epoch = json.loads(open(tmp_path / "logs" / "planted" / log[0]).readline())
    assert set(first_epoch["losses"]) == {"BPR", "ScoreMatch"} and first_epoch["losses"]["ScoreMatch"] > 0
