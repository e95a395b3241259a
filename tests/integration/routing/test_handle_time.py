"""The one average handle time: from connected, else routed, else started, to the end of the contact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from routing.config import center_config
from routing.handle_time import handle_seconds_by_queue, queue_handle_seconds
from routing.models import Contact, QueueEntry
from routing.wait import MIN_SAMPLES
from terugbel.clock import ManualClock
from terugbel.db import Database
from tests.integration.routing.fixtures import add_contact, add_waiting


def test_handle_time_starts_when_the_caller_was_connected_else_routed_else_started(
    db: Database, clock: ManualClock, make_queue: Any, make_caller: Any
) -> None:
    now = clock.now()
    queue = make_queue("technisch", default_handle_seconds=300)
    caller = make_caller()
    contacts = [
        add_contact(db, caller, started_at=now - timedelta(hours=2, minutes=i), queue=queue, minutes=10)
        for i in range(MIN_SAMPLES)
    ]
    with db.session() as session:
        assert queue_handle_seconds(session, queue.id, 300) == 600  # routed when it started: 10 minutes each
    half = len(contacts) // 2
    entries = [add_waiting(db, queue, enqueued_at=now) for _ in contacts[:half]]
    with db.session() as session:
        for contact, added in zip(contacts[:half], entries, strict=True):
            # Waited 4 minutes in the queue, then talked for 6.
            entry = session.get(QueueEntry, added.id)
            entry.contact_id, entry.state = contact.id, "connected"
            entry.left_at = contact.started_at + timedelta(minutes=4)
        for contact in contacts[half:]:
            # Never routed (a transfer straight to an agent): measured from the start.
            session.get(Contact, contact.id).routed_at = None
    with db.session() as session:
        assert queue_handle_seconds(session, queue.id, 300) == (half * 360 + (len(contacts) - half) * 600) / len(
            contacts
        )
        assert queue_handle_seconds(session, queue.id + 1, 300) == 300  # no contacts: the default


def test_routing_keeps_the_measured_handle_times_for_a_minute_under_one_stamp(
    db: Database, clock: ManualClock, make_queue: Any, make_caller: Any
) -> None:
    now = clock.now()
    queue = make_queue("technisch", default_handle_seconds=300)
    caller = make_caller()
    for i in range(MIN_SAMPLES):
        add_contact(db, caller, started_at=now - timedelta(hours=2, minutes=i), queue=queue, minutes=4)
    with db.session() as session:
        config = center_config(session)
        assert handle_seconds_by_queue(session, config.queues, config.token, now) == {queue.id: 240}
    add_contact(db, caller, started_at=now - timedelta(hours=1), queue=queue, minutes=4 + 20 * 2)
    with db.session() as session:
        kept = handle_seconds_by_queue(session, config.queues, config.token, now + timedelta(seconds=59))
        fresh = handle_seconds_by_queue(session, config.queues, None, now)
        later = handle_seconds_by_queue(session, config.queues, config.token, now + timedelta(seconds=60))
    assert kept == {queue.id: 240}
    assert fresh == later == {queue.id: (MIN_SAMPLES * 240 + 44 * 60) / (MIN_SAMPLES + 1)}
