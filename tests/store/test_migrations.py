import pytest
from sqlalchemy import inspect

from expertune.store.db import HEAD_REVISION, current_revision, head_revision, make_engine, upgrade
from expertune.store.tables import Base


def test_upgrade_from_empty_db_creates_every_table(store_url):
    engine = make_engine(store_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_migrated_schema_matches_the_models(store_url):
    """Autogenerate against the migrated db must find nothing to do: models and migrations agree,
    on SQLite and on PostgreSQL alike."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(store_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_known_head_is_alembics_head():
    """Opening a store skips Alembic when the stored revision is HEAD_REVISION: a new migration
    must move it too, or stores would stay on the old schema."""
    assert HEAD_REVISION == head_revision()


def test_a_store_one_migration_behind_is_upgraded(store_url):
    """The revision check done without Alembic sends an older store to Alembic's upgrade."""
    from alembic import command

    from expertune.store.db import alembic_config

    engine = make_engine(store_url)
    upgrade(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    assert current_revision(engine) not in (None, HEAD_REVISION)
    upgrade(engine)
    assert current_revision(engine) == HEAD_REVISION


def test_upgrade_is_idempotent(store_url):
    engine = make_engine(store_url)
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_wal_is_on(store_url):
    engine = make_engine(store_url)
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_store_from_a_newer_expertune_is_refused_naming_the_fix(store_url):
    from sqlalchemy import text

    from expertune.errors import ConfigError
    from expertune.store.db import VERSION_TABLE

    engine = make_engine(store_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099_from_the_future'"))
    with pytest.raises(ConfigError, match="0099_from_the_future.*newer expertune; upgrade expertune"):
        upgrade(engine)
    with engine.connect() as conn:  # left as it was
        assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == "0099_from_the_future"
