"""The schema revision this expertune works with, kept apart from SQLAlchemy and Alembic.

Opening a store compares the revision stored in it with HEAD_REVISION: db.py to skip Alembic
when there is nothing to migrate, readonly.py to read a SQLite store with the standard library
alone. Neither may cost the import of SQLAlchemy, so the constants live here.
"""

# The newest migration's revision. tests/store/test_migrations.py checks it is Alembic's head.
HEAD_REVISION = "0005"
# Alembic's default version table, which store/migrations/env.py keeps.
VERSION_TABLE = "alembic_version"
