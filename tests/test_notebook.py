"""The notebook runs headlessly on the committed logs, and the log readers it relies on work."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

from Utils.reporting.logs import read_log
from Utils.reporting.plots import learning_curves, load_runs, results_markdown

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_reads_the_original_release_log_format():
    log = read_log(os.path.join(ROOT, "logs", "original", "DE.log"))
    assert len(log.epochs) == 274 and log.epochs[0]["loss"] == pytest.approx(868.54)
    assert log.epochs[0]["valid"]["H@5"] == pytest.approx(0.1391)
    assert log.final["checkpoint_epoch"] == 253 and log.final["test"]["H@5"] == pytest.approx(0.4773)


def test_our_text_and_json_logs_agree():
    text = read_log(os.path.join(ROOT, "logs", "citeULike", "student.log"))
    jsonl = read_log(os.path.join(ROOT, "logs", "citeULike", "student.jsonl"))
    assert len(text.epochs) == len(jsonl.epochs)
    assert text.epochs[-1]["valid"]["H@5"] == pytest.approx(jsonl.epochs[-1]["valid"]["H@5"], abs=6e-5)
    assert text.final["test"]["H@5"] == pytest.approx(jsonl.final["test"]["H@5"], abs=6e-5)


def test_figure_and_table_without_jupyter(tmp_path):
    runs = load_runs(os.path.join(ROOT, "logs", "citeULike"), ["teacher", "student"],
                     os.path.join(ROOT, "logs", "original"))
    learning_curves(runs, "N@10", path=str(tmp_path / "c.png"))
    assert (tmp_path / "c.png").stat().st_size > 10_000
    table = results_markdown(runs)
    assert "| student |" in table and "*0.4441*" in table


def test_notebook_executes_headlessly(tmp_path):
    nb = nbformat.read(os.path.join(ROOT, "analysis.ipynb"), as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and nb.cells.index(params[0]) <= 1
    params[0].source = params[0].source.replace('fig_dir = "figures"', f'fig_dir = {str(tmp_path)!r}')
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": ROOT}}).execute()
    assert (tmp_path / "learning_curves_H5.png").exists()
    outputs = "".join(str(o.get("data", o.get("text", ""))) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "teacher" in outputs and "Traceback" not in outputs
