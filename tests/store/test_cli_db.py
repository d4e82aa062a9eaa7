"""The `db`, `backup`, `restore` and `purge` commands: parsing, printing, clean errors."""

import json

import pytest
import typer
from typer.testing import CliRunner

from expertune.cli import db as db_cli
from expertune.data.ingest import import_file
from expertune.errors import ExpertuneError
from store.store_helpers import chat_rows, write_jsonl

runner = CliRunner()


def _app() -> typer.Typer:
    """The commands on an app of their own, so the test does not depend on cli/app.py wiring."""
    app = typer.Typer()

    @app.callback()
    def _global(ctx: typer.Context, workspace: str = typer.Option(None, "-w")):
        ctx.obj = {"workspace": workspace}

    db_cli.register(app)
    return app


def invoke(*args):
    result = runner.invoke(_app(), list(args))
    if isinstance(result.exception, ExpertuneError):
        return 2, str(result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def test_status_upgrade_backup_restore_copy_purge(ws, tmp_path, request):
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", chat_rows("c", 3)))
    w = str(ws.root)
    code, out = invoke("-w", w, "db", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["up_to_date"] and status["rows"]["responses"] == 9 and status["pending"] == []
    code, out = invoke("-w", w, "db", "upgrade")
    assert code == 0 and "nothing to do" in out

    code, out = invoke("-w", w, "backup", str(tmp_path / "b.bak"), "--json")
    assert code == 0 and json.loads(out)["total_rows"] > 9
    code, message = invoke("-w", w, "restore", str(tmp_path / "b.bak"))
    assert code == 2 and "--replace" in message
    code, out = invoke("-w", w, "restore", str(tmp_path / "b.bak"), "--replace")
    assert code == 0 and "matches the backup" in out

    other = request.getfixturevalue("pg_url") if ws.store_url.startswith("sqlite") else f"sqlite:///{tmp_path / 'c.db'}"
    code, out = invoke("-w", w, "db", "copy", "--to", other)
    assert code == 0 and "identical" in out and "store_url:" in out

    code, message = invoke("-w", w, "purge", "1")
    assert code == 2 and "--reason" in message
    code, out = invoke("-w", w, "purge", "1", "2", "--reason", "request [bold]7[/bold]", "--author", "dpo", "--json")
    reports = json.loads(out)
    assert code == 0 and [r["response_id"] for r in reports] == [1, 2]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_status_says_when_migrations_are_pending_without_applying_them(tmp_path, store_url):
    from expertune.store.db import make_engine
    from expertune.workspace import SETTINGS_FILE

    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / SETTINGS_FILE).write_text(f"store_url: {store_url}\n")
    code, out = invoke("-w", str(tmp_path / "ws"), "db", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["revision"] is None and len(status["pending"]) >= 3 and not status["up_to_date"]
    from expertune.store.db import current_revision
    assert current_revision(make_engine(store_url)) is None  # status changed nothing
    code, out = invoke("-w", str(tmp_path / "ws"), "db", "upgrade", "--json")
    assert json.loads(out)["applied"] == status["pending"]
