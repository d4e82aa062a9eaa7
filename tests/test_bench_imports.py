"""The bench scripts are not run by the test suite (they take minutes), so nothing else notices
when a library change moves a name they import: every `from expertune... import name` in bench/
must still resolve."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def expertune_imports():
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "expertune":
                for alias in node.names:
                    yield pytest.param(node.module, alias.name, id=f"{path.name}:{node.lineno}:{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "expertune":
                        yield pytest.param(alias.name, None, id=f"{path.name}:{node.lineno}:{alias.name}")


@pytest.mark.parametrize(("module", "name"), list(expertune_imports()))
def test_bench_imports_resolve(module, name):
    loaded = importlib.import_module(module)
    if name is not None and not hasattr(loaded, name):
        importlib.import_module(f"{module}.{name}")  # a submodule imported by name
