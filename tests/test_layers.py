"""Layers import only downward: tensors and data < models < training < reporting < entry scripts, with the
declarations every layer reads (errors, atomic writes, the published numbers, the registry of runs) at
the bottom. Read from the source (ast), so a violation is found without importing anything."""
import ast
import glob
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEVELS = (("Utils", 0), ("Utils.errors", 0), ("Utils.atomic", 0), ("Utils.paper", 0), ("Utils.registry", 0),
          ("Utils.tensors", 1), ("Utils.data", 1), ("Models", 2), ("Utils.training", 3), ("Utils.reporting", 4), ("Utils.experiments", 5),
          ("main_", 5))


def level(module):
    for prefix, value in sorted(LEVELS, key=lambda p: -len(p[0])):       # the longest prefix decides
        if module == prefix or (module.startswith(prefix + ".") and prefix != "Utils") or \
                (prefix == "main_" and module.startswith(prefix)):
            return value
    return None


def project_imports(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno


def test_every_import_points_downward():
    files = glob.glob(os.path.join(ROOT, "Utils", "**", "*.py"), recursive=True) + \
        glob.glob(os.path.join(ROOT, "Models", "*.py")) + glob.glob(os.path.join(ROOT, "main_*.py"))
    upward = []
    for path in files:
        module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")
        own = level(module)
        assert own is not None, module
        for imported, line in project_imports(path):
            other = level(imported)
            if other is not None and other > own:
                upward.append(f"{module}:{line} imports {imported}")
    assert not upward, upward
    assert len(files) > 60


def test_the_check_sees_an_upward_import(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("import torch\nfrom Utils.reporting.plots import learning_curves\n")
    assert [(m, level(m)) for m, _ in project_imports(str(path))] == [("torch", None), ("Utils.reporting.plots", 4)]
    assert level("Models.DE") == 2 and level("main_DE") == 5
