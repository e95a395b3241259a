"""The migrations build exactly the schema the models describe, up and down, on this run's backend."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

import terugbel.schema  # noqa: F401  (every model, so Base.metadata is the whole schema)
from terugbel.db import Base, Database
from terugbel.migrate import current_revision, downgrade, upgrade
from terugbel.settings import load_settings


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[Engine]:
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        database = Database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        yield database.engine
        database.dispose()
        return
    base = load_settings({"DATABASE_URL": server_url}).database_url
    schema = f"migr_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database(f"{base}?options={quote(f'-csearch_path={schema}')}")
    yield database.engine
    database.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_upgraded_database_matches_the_models(empty_database: Engine) -> None:
    upgrade(empty_database)
    assert current_revision(empty_database) == "0002_callback_place_is_free"
    with empty_database.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert differences == []


def test_downgrade_to_base_removes_everything(empty_database: Engine) -> None:
    upgrade(empty_database)
    downgrade(empty_database, "base")
    remaining = set(inspect(empty_database).get_table_names()) - {"alembic_version"}
    assert remaining == set()
    upgrade(empty_database)  # and back up again: the downgrade left nothing behind that blocks it
    assert "callback_promises" in inspect(empty_database).get_table_names()
