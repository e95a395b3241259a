"""Alembic environment: the URL and the metadata come from Terugbel, not from alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import terugbel.schema  # noqa: F401  (every model, so Base.metadata is the whole schema)
from terugbel.db import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        version_table_schema=config.attributes.get("schema"),
    )


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through terugbel.migrate, which passes a connection")
_configure(connection)
with context.begin_transaction():
    context.run_migrations()
