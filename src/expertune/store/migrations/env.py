"""Alembic environment: runs on the connection expertune hands over (see store/db.py)."""

from alembic import context

from expertune.store.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # plain `alembic` CLI use: build an engine from the ini URL
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
)
with context.begin_transaction():
    context.run_migrations()
