"""The configuration each process keeps (routing/config.py) follows every change, from any process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from routing.config import center_config
from routing.live_state import queue_statuses
from routing.models import ConfigurationStamp, Incident, Intent, Queue
from routing.route import active_incidents_for, classify_intent
from routing.rule_sets import live_rules, publish_rule_set
from terugbel.clock import ManualClock
from terugbel.db import Database


def _stamp(db: Database) -> str | None:
    with db.session() as session:
        return session.scalar(select(ConfigurationStamp.token))


def test_a_change_made_by_another_process_is_seen_on_the_next_transaction(
    db: Database, clock: ManualClock, make_queue: Any, make_intent: Any
) -> None:
    queue = make_queue("technisch")
    make_intent("internet", queue, nl=["internet"])
    other_process = Database(db.url)  # its own engine and sessions, like another gunicorn worker
    try:
        with db.session() as session:
            assert classify_intent(session, "mijn tv hapert", "nl").intent is None
        with other_process.session() as session:
            session.scalar(select(Intent).where(Intent.name == "internet")).phrases_nl = ["internet", "tv"]
            session.add(
                Incident(
                    title="storing",
                    message_nl="Er is een storing.",
                    message_en="There is an outage.",
                    match_all=True,
                    started_at=clock.now() - timedelta(minutes=5),
                    created_by="karin",
                )
            )
            publish_rule_set(
                session,
                [
                    {
                        "name": "alles technisch",
                        "conditions": {"always": True},
                        "actions": {"route_to_queue": "technisch"},
                    }
                ],
                "karin",
                clock.now(),
            )
        with db.session() as session:
            found = classify_intent(session, "mijn tv hapert", "nl").intent
            assert found is not None and found.name == "internet"
            assert [i.title for i in active_incidents_for(session, "+31612345678", clock.now())] == ["storing"]
            assert [rule.name for rule in live_rules(session).rules] == ["alles technisch"]
    finally:
        other_process.dispose()


def test_a_bulk_update_through_the_session_sets_a_new_stamp(db: Database, clock: ManualClock, make_queue: Any) -> None:
    make_queue("technisch", label="Techniek")
    with db.session() as session:
        assert [q.label for q in queue_statuses(session, clock.now())] == ["Techniek"]
    before = _stamp(db)
    with db.session() as session:
        session.execute(update(Queue).values(label="Techniek en storingen"))
    assert _stamp(db) not in (None, before)
    with db.session() as session:
        assert [q.label for q in queue_statuses(session, clock.now())] == ["Techniek en storingen"]


def test_a_change_rolled_back_keeps_the_stamp_and_the_kept_copy(db: Database, make_queue: Any) -> None:
    make_queue("technisch")
    before = _stamp(db)
    session = db.new_session()
    with session.begin():
        session.add(Queue(name="facturen", label="Facturen", skill="facturen"))
        session.flush()
        session.rollback()
    assert _stamp(db) == before
    with db.session() as session:
        assert [q.name for q in center_config(session).queues] == ["technisch"]


def test_a_transaction_sees_its_own_change_at_once(db: Database, make_queue: Any) -> None:
    make_queue("technisch")
    with db.session() as session:
        assert [q.name for q in center_config(session).queues] == ["technisch"]
        session.add(Queue(name="facturen", label="Facturen", skill="facturen"))
        session.flush()
        assert [q.name for q in center_config(session).queues] == ["technisch", "facturen"]


def test_an_emptied_database_is_never_served_from_an_old_copy(db: Database, make_queue: Any) -> None:
    make_queue("technisch")
    with db.session() as session:
        assert [q.name for q in center_config(session).queues] == ["technisch"]
    with db.engine.begin() as conn:  # what a restore or the test fixture does: raw SQL, no ORM events
        for table in ("business_hours", "queues", "configuration_stamp"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    with db.session() as session:
        assert center_config(session).queues == ()
