"""The migrations build exactly the schema the models describe, up and down, on this run's backend."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import terugbel.schema  # noqa: F401  (every model, so Base.metadata is the whole schema)
from callbacks.models import CallbackSlot
from routing.models import Queue
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
    assert current_revision(empty_database) == "0009_handle_time_indexes"
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


def test_upgrading_a_database_with_bookings_gives_every_slot_its_place_rows(empty_database: Engine) -> None:
    """0003 gives each slot a row for each place below its capacity and each place a promise holds."""
    upgrade(empty_database, "0002_callback_place_is_free")
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    with Session(empty_database) as session, session.begin():
        queue = Queue(name="technisch", label="Technisch", skill="technisch")
        session.add(queue)
        session.flush()
        quarter = timedelta(minutes=15)
        three = CallbackSlot(queue_id=queue.id, starts_at=start, ends_at=start + quarter, capacity=3)
        one = CallbackSlot(queue_id=queue.id, starts_at=start + quarter, ends_at=start + 2 * quarter, capacity=1)
        session.add_all([three, one])
        session.flush()
        held = {}
        for n, (slot, place) in enumerate([(three, 1), (one, 2)]):
            # Written as SQL: the models have columns later revisions add.
            held[slot.id, place] = session.execute(
                text(
                    "INSERT INTO callback_promises (queue_id, slot_id, place, number, language, timezone,"
                    " window_start, window_end, planned_dial_at, state, attempts, max_attempts, source,"
                    " moved_by_us, at_risk, booked_at) VALUES (:queue, :slot, :place, :number, 'nl',"
                    " 'Europe/Amsterdam', :start, :end, :start, 'booked', 0, 3, 'ivr', false, false, :booked)"
                    " RETURNING id"
                ),
                {
                    "queue": queue.id,
                    "slot": slot.id,
                    "place": place,
                    "number": f"+3161234567{n}",
                    "start": slot.starts_at,
                    "end": slot.ends_at,
                    "booked": start - timedelta(hours=1),
                },
            ).scalar_one()
        slots = (three.id, one.id)
    upgrade(empty_database)
    with empty_database.connect() as conn:
        rows = conn.execute(text("SELECT slot_id, place, promise_id FROM callback_places ORDER BY slot_id, place"))
        assert [tuple(row) for row in rows] == [
            (slots[0], 0, None),
            (slots[0], 1, held[slots[0], 1]),
            (slots[0], 2, None),
            (slots[1], 0, None),
            (slots[1], 2, held[slots[1], 2]),
        ]


def test_upgrading_a_database_with_agents_gives_them_dutch(empty_database: Engine) -> None:
    """0005 adds agents.language: agents that exist already speak Dutch; only nl and en are held."""
    upgrade(empty_database, "0004_queue_entries_waiting_since")
    with empty_database.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO agents (name, phone, skills, state, active)"
                " VALUES ('Sanne', '+31611110001', '[]', 'away', true)"
            )
        )
    upgrade(empty_database)
    with empty_database.connect() as conn:
        assert conn.execute(text("SELECT language FROM agents")).scalar_one() == "nl"
    with pytest.raises(IntegrityError), empty_database.begin() as conn:
        conn.execute(text("UPDATE agents SET language = 'de'"))
