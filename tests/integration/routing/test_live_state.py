"""Queues and agents at one moment: open or closed, callers waiting, agents serving, wait estimates by hand."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from routing.live_state import queue_statuses
from routing.models import Holiday
from terugbel.clock import ManualClock
from terugbel.db import Database
from tests.integration.routing.fixtures import add_contact, add_waiting


def test_wait_estimate_by_hand(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any, make_caller: Any
) -> None:
    now = clock.now()
    queue = make_queue("technisch", default_handle_seconds=360)
    make_agent("A", "+31611110011", ("technisch",), state="available")
    make_agent("B", "+31611110012", ("technisch",), state="on_call")
    make_agent("C", "+31611110013", ("technisch",), state="wrap_up")
    make_agent("D", "+31611110014", ("technisch",), state="away")  # not serving
    make_agent("E", "+31611110015", ("technisch",), shifts=[])  # not on shift
    for minute in range(5):
        add_waiting(db, queue, enqueued_at=now - timedelta(minutes=minute))
    add_waiting(db, queue, enqueued_at=now, state="connected")

    def status() -> Any:
        with db.session() as session:
            return next(s for s in queue_statuses(session, now, fresh=True) if s.name == "technisch")

    first = status()
    assert (first.waiting, first.available_agents, first.serving_agents) == (5, 1, 3)
    # 5 waiting, 1 free: 5 callers wait for 3 serving agents at the default 360 s: 5 * 360 / 3.
    assert first.average_handle_seconds == 360 and first.wait_estimate_seconds == 600
    caller = make_caller()
    for i in range(19):
        add_contact(db, caller, started_at=now - timedelta(hours=2, minutes=i), queue=queue, minutes=4)
    assert status().wait_estimate_seconds == 600  # 19 contacts: still the default
    add_contact(db, caller, started_at=now - timedelta(hours=3), queue=queue, minutes=4)
    assert status().average_handle_seconds == 240
    assert status().wait_estimate_seconds == 400  # 5 * 240 / 3
    # Contacts that did not reach an agent do not count.
    add_contact(db, caller, started_at=now - timedelta(hours=1), queue=queue, minutes=60, outcome="abandoned")
    assert status().average_handle_seconds == 240


def test_queue_closed_on_a_custom_holiday(db: Database, clock: ManualClock, center: dict[str, Any]) -> None:
    with db.session() as session:
        session.add(Holiday(queue_id=center["technisch"].id, day=date(2026, 11, 23), name="heidag"))
    with db.session() as session:
        statuses = {s.name: s.open for s in queue_statuses(session, clock.now())}
    assert statuses == {"technisch": False, "facturen": True, "retentie": True}
