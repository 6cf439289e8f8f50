import os
import sys

# On Intel CPUs MKL's float products may depend on the memory alignment of their operands unless its
# conditional numerical reproducibility is strict; the tests that compare two formulations bit for bit
# (tests/test_expert_mixture.py) need it. Set before torch first calls MKL (docs/speed.md).
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    config.addinivalue_line("markers", "ray: the experiment runner on a real local Ray (pytest -m ray tests)")
