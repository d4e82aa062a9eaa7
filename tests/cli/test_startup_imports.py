"""`expertune --help` and `expertune stats` import only what they use.

Each runs in a fresh interpreter under `python -X importtime`, whose report names every module
imported; the heavy libraries (seconds of start-up between them) must not be among them. The
assertion is on modules, not on time: timings are bench/cli_startup.py's job.
"""

import subprocess
import sys

from conftest import chat_record, write_jsonl
from expertune.data.ingest import import_file
from expertune.workspace import Workspace

# Loaded by the commands that train, evaluate, check or serve — never to print help.
HEAVY = ("torch", "transformers", "numpy", "pandas", "matplotlib", "scipy", "sklearn", "datasets", "peft", "trl",
         "accelerate", "fastapi", "uvicorn", "nicegui", "statsmodels", "datasketch")
# The store's libraries: needed by commands that open a workspace, not by --help.
STORE = ("sqlalchemy", "alembic")


def imported_modules(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "expertune", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert len(lines) > 50, proc.stderr[-2000:]  # the report is there: the check below could not pass vacuously
    return {line.rsplit("|", 1)[1].strip() for line in lines}


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_help_imports_no_heavy_library_and_no_store():
    modules = imported_modules("--help")
    assert "typer" in modules and "expertune.cli.app" in modules
    assert top_level(modules) & {*HEAVY, *STORE} == set()


def test_stats_imports_the_store_but_no_heavy_library(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", [chat_record(f"Q{i}?", f"Answer {i}.", topic="T") for i in range(3)]))
    modules = imported_modules("-w", str(ws.root), "stats", "--json")
    assert "sqlalchemy" in modules and "expertune.data.stats" in modules
    assert top_level(modules) & set(HEAVY) == set()
