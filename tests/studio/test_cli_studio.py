"""`expertune studio`: a public bind without a token is a clean user error (exit 2), before serving."""

import pytest

from expertune.cli import app as cli_app


def test_public_bind_without_token_exits_2_with_the_fix(ws, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_app.main(["-w", str(ws.root), "studio", "--host", "0.0.0.0", "--no-browser"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--host 0.0.0.0" in err and "--token" in err and "Traceback" not in err


def test_outside_a_workspace_it_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli_app.main(["studio", "--no-browser"])
    assert exit_info.value.code == 2 and "expertune init" in capsys.readouterr().err
