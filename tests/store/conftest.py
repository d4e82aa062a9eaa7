"""Store tests run against both backends: SQLite files and a throw-away PostgreSQL server.

`backend` is parametrised over "sqlite" and "postgresql"; `store_url` gives a fresh, empty store
of that backend and `ws` a workspace on it. The PostgreSQL cluster starts once per test session
(see pg_cluster.py); without the binaries those tests are skipped and the summary says why.
tests/store is a package (it has __init__.py) so this conftest does not take the module name
`conftest` from tests/conftest.py, whose helpers other test folders import by that name.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

import pytest

from store import pg_cluster
from expertune.workspace import Workspace

_SKIP = pg_cluster.skip_reason()
_used: dict[str, str] = {}
_db_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg():
    """The session's PostgreSQL cluster (started on first use)."""
    if _SKIP:
        pytest.skip(_SKIP)
    root = Path(tempfile.mkdtemp(prefix="expertune-pg-"))
    cluster = pg_cluster.Cluster(pg_cluster.find_bindir(), root).start()
    _used["version"] = cluster.version
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg) -> str:
    """A fresh, empty PostgreSQL database."""
    return pg.create_database(f"t{next(_db_names)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def store_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def ws(tmp_path, store_url) -> Workspace:
    return Workspace.init(tmp_path / "ws", store_url=store_url if store_url.startswith("postgresql") else None)


def pytest_terminal_summary(terminalreporter):
    """Say in every run whether the PostgreSQL store tests ran, and if not, why."""
    if _SKIP:
        terminalreporter.write_line(f"PostgreSQL store tests SKIPPED: {_SKIP}", yellow=True, bold=True)
    elif "version" in _used:
        terminalreporter.write_line(f"PostgreSQL store tests ran against a throw-away PostgreSQL {_used['version']} cluster")
