import pytest

from expertune.errors import ConfigError, WorkspaceNotFound
from expertune.workspace import Workspace


def test_init_creates_settings_store_and_runs(tmp_path):
    ws = Workspace.init(tmp_path / "w")
    assert (ws.root / "expertune.yaml").is_file()
    assert (ws.root / "expertune.db").is_file()
    assert (ws.root / "runs").is_dir()


def test_find_walks_up_from_a_subfolder(tmp_path, monkeypatch):
    ws = Workspace.init(tmp_path / "w")
    sub = ws.root / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert Workspace.find().root == ws.root


def test_find_outside_a_workspace_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceNotFound, match="expertune init"):
        Workspace.find()


def test_unknown_settings_key_is_named(tmp_path):
    ws = Workspace.init(tmp_path / "w")
    (ws.root / "expertune.yaml").write_text("name: x\nsplitt: {}\n")
    with pytest.raises(ConfigError, match="splitt: unknown key"):
        Workspace(ws.root).settings


def test_the_store_url_is_read_from_a_validated_text_only(tmp_path, monkeypatch):
    """`store_url` skips pydantic for a text that passed validation before, never for a new one:
    a typo made after a command succeeded is still refused (naming the key), and so is a wrong type."""
    monkeypatch.setenv("EXPERTUNE_CACHE", str(tmp_path / "cache"))
    ws = Workspace.init(tmp_path / "w")
    settings = ws.root / "expertune.yaml"
    settings.write_text("name: x\nstore_url: sqlite:///elsewhere.db\n")
    first = Workspace(ws.root)
    assert first.store_url == "sqlite:///elsewhere.db" and "settings" in vars(first)  # validated
    again = Workspace(ws.root)
    assert again.store_url == "sqlite:///elsewhere.db" and "settings" not in vars(again)  # known valid
    for text, error in (("name: x\nstore_ur: sqlite:///elsewhere.db\n", "store_ur: unknown key"),
                        ("name: x\nstore_url: 5\n", "store_url: Input should be a valid string")):
        settings.write_text(text)
        with pytest.raises(ConfigError, match=error):
            Workspace(ws.root).store_url


def test_opening_a_workspace_never_creates_its_store(tmp_path):
    from expertune.errors import StoreError

    ws = Workspace.init(tmp_path / "w")
    ws.engine.dispose()
    (ws.root / "expertune.db").unlink()
    with pytest.raises(StoreError, match=r"expertune\.db: the store of workspace .* is missing\. Restore"):
        Workspace(ws.root).engine
    assert not (ws.root / "expertune.db").exists()
    assert Workspace.init(ws.root).engine  # init is the one way to start an empty store
    assert (ws.root / "expertune.db").stat().st_size > 0


@pytest.mark.parametrize("url", [None, "sqlite:///rel/x.db", "sqlite:////abs/x.db", "sqlite:////abs/with space#and@at.db",
                                 "sqlite:///", "sqlite:///:memory:", "sqlite://", "sqlite:////a%20b.db",
                                 "sqlite:////x.db?mode=ro", "sqlite+pysqlite:////x.db", "postgresql+psycopg://u@h/db",
                                 "not a url"])
def test_the_sqlite_file_is_where_sqlalchemy_reads_it(tmp_path, url):
    """Workspace.sqlite_file reads the usual URLs without SQLAlchemy (for `expertune stats`),
    and must agree with it."""
    from pathlib import Path

    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    import yaml

    (tmp_path / "expertune.yaml").write_text(yaml.safe_dump({"store_url": url}))
    ws = Workspace(tmp_path)
    try:
        parsed = make_url(ws.store_url)
        expected = Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") else None
    except ArgumentError:
        expected = None
    assert ws.sqlite_file == expected
