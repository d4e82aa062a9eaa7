"""`expertune --help` and `expertune stats` import only what they use.

Each runs in a fresh interpreter through the real entry point, which then reports `sys.modules`;
the heavy libraries (seconds of start-up between them), Alembic (needed only to migrate a store)
and the modules of the other commands must not be among them. The assertion is on modules, not
on time: timings are bench/cli_startup.py's job.
"""

import json
import os
import subprocess
import sys

from conftest import chat_record, write_jsonl
from expertune.data.ingest import import_file
from expertune.workspace import Workspace

# Loaded by the commands that train, evaluate, check or serve — never to print help.
HEAVY = ("torch", "transformers", "numpy", "pandas", "matplotlib", "scipy", "sklearn", "datasets", "peft", "trl",
         "accelerate", "fastapi", "uvicorn", "nicegui", "statsmodels", "datasketch", "alembic", "mako")
# The store's library: needed by commands that open a workspace through the ORM, not by --help
# nor by `stats` on a SQLite store (read with sqlite3, store/readonly.py).
STORE = ("sqlalchemy",)

# Runs `expertune ARGS...` as the script does, and prints the loaded modules last (at exit, after
# typer's own sys.exit), as JSON on a line of their own.
RUN = ("import atexit, json, sys\n"
       "atexit.register(lambda: print('\\nMODULES ' + json.dumps(sorted(sys.modules))))\n"
       "from expertune.cli.app import main\n"
       "main(sys.argv[1:])\n")


def imported_modules(*args: str, env: dict[str, str] | None = None) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = proc.stdout.rsplit("\nMODULES ", 1)[1]
    return set(json.loads(line))


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_help_imports_no_heavy_library_and_no_store():
    modules = imported_modules("--help")
    assert "typer" in modules and "expertune.cli.app" in modules
    assert top_level(modules) & {*HEAVY, *STORE} == set()
    # typer's help renderer imports rich.markdown, markdown_it and pygments (cli/root_help.py)
    assert {"typer.rich_utils", "markdown_it", "pygments"} & modules == set()


def test_stats_on_sqlite_imports_neither_the_store_library_nor_other_commands(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", [chat_record(f"Q{i}?", f"Answer {i}.", topic="T") for i in range(3)]))
    cache = {"EXPERTUNE_CACHE": str(tmp_path / "cache")}
    # The first command to read this expertune.yaml validates it (pydantic); later ones read it as it is.
    assert "pydantic" in top_level(imported_modules("-w", str(ws.root), "stats", env=cache))
    for args in (["stats"], ["stats", "--json"]):
        modules = imported_modules("-w", str(ws.root), *args, env=cache)
        assert "expertune.data.stats" in modules and "expertune.store.readonly" in modules
        assert top_level(modules) & {*HEAVY, *STORE, "pydantic"} == set()
        assert {m for m in modules if m.startswith("expertune.cli.")} == {
            "expertune.cli.app", "expertune.cli.common", "expertune.cli.data"}


def test_a_store_that_needs_migrating_still_is(tmp_path):
    """The other side of not importing Alembic: a store behind the newest migration is upgraded
    by the first command that opens it."""
    from alembic import command
    from sqlalchemy import create_engine

    from expertune.store.db import HEAD_REVISION, alembic_config, current_revision

    ws = Workspace.init(tmp_path / "ws")
    url = ws.store_url
    ws.engine.dispose()
    engine = create_engine(url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    assert current_revision(engine) != HEAD_REVISION
    modules = imported_modules("-w", str(ws.root), "stats", "--json")
    assert "alembic" in modules
    assert current_revision(engine) == HEAD_REVISION
