"""The benchmark scripts, imported as modules so that their verdict code runs in tests.

The scripts live in ``benchmarks/`` (not a package) and import ``verdicts`` from beside
them, as ``python benchmarks/NAME.py`` lets them; ``load_benchmark`` does the same.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    module_name = f"benchmarks_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark("parity")``: the script ``benchmarks/parity.py`` as a module."""
    return _load
