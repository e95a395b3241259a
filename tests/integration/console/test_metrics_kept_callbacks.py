"""First-contact resolution and repeats with callbacks: a kept callback is the call that booked it.

A small day worked out by hand, read back through /api/metrics.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callbacks.models import CallbackPromise
from routing.history import resolved_at_first_contact
from routing.models import Caller, Contact, Intent, Queue

ZONE = ZoneInfo("Europe/Amsterdam")
AFTER_THE_WEEK = datetime(2026, 12, 2, 12, 0, tzinfo=ZONE)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, tzinfo=ZONE)


def _seed(db: Any, *, resolved_otherwise: bool) -> dict[str, int]:
    """Monday 23 November, queue technisch, intents internet and tv:

      A 09:00 internet  agent, resolved                 first contact, resolved
      B 10:00 internet  callback booked                 kept 11:01 by the callback below
      B 11:01 internet  the kept callback, resolved     (continues B 10:00: not a contact of its own)
      C 12:00 tv        agent                           repeated at 13:00: not resolved first time
      C 13:00 tv        agent, resolved                 a repeat of 12:00

    4 calls. FCR: A yes, B yes (on its callback), C 12:00 no, C 13:00 yes = 3/4. Repeats: only
    C 13:00 = 1/4. One callback due, kept and connected.

    With `resolved_otherwise`, D 14:00 (internet, callback booked) reaches an agent at 14:30 about tv
    while the callback is pending: that promise is `resolved`, D 14:00 was not resolved first time
    and D 14:30 repeats it, whatever the intent.
    """
    ids: dict[str, int] = {}
    with db.session() as session:
        queue = Queue(name="technisch", label="Technisch", skill="technisch")
        session.add(queue)
        session.flush()
        internet = Intent(name="internet", label_nl="Internet", label_en="Internet", queue_id=queue.id)
        tv = Intent(name="tv", label_nl="Tv", label_en="TV", queue_id=queue.id)
        session.add_all([internet, tv])
        callers = {key: Caller(number=f"+3161111111{n}", created_at=at(8)) for n, key in enumerate("ABCD")}
        session.add_all(callers.values())
        session.flush()

        def contact(key: str, who: str, start: datetime, intent: Intent, outcome: str, **extra: Any) -> int:
            row = Contact(
                caller_id=callers[who].id,
                channel=extra.pop("channel", "call"),
                intent_id=intent.id,
                queue_id=queue.id,
                outcome=outcome,
                started_at=start,
                routed_at=start + timedelta(seconds=10),
                **extra,
            )
            session.add(row)
            session.flush()
            ids[key] = row.id
            return row.id

        def promise(who: str, booked_by: int, state: str, hour: int, **extra: Any) -> None:
            session.add(
                CallbackPromise(
                    queue_id=queue.id,
                    caller_id=callers[who].id,
                    contact_id=booked_by,
                    intent_id=internet.id,
                    number=callers[who].number,
                    language="nl",
                    timezone="Europe/Amsterdam",
                    window_start=at(hour),
                    window_end=at(hour, 15),
                    planned_dial_at=at(hour),
                    state=state,
                    booked_at=at(hour - 1),
                    **extra,
                )
            )

        contact("A", "A", at(9), internet, "agent", resolved=True)
        booked = contact("B", "B", at(10), internet, "callback_booked")
        promise("B", booked, "completed", 11, first_dial_at=at(11), connected_at=at(11, 1))
        contact("B-callback", "B", at(11, 1), internet, "agent", channel="callback", resolved=True,
                continues_contact_id=booked)  # fmt: skip
        contact("C1", "C", at(12), tv, "agent")
        contact("C2", "C", at(13), tv, "agent", resolved=True)
        if resolved_otherwise:
            pending = contact("D", "D", at(14), internet, "callback_booked")
            promise("D", pending, "resolved", 16, reason="resolved by another contact")
            contact("D2", "D", at(14, 30), tv, "agent", resolved=True)
        session.commit()
    return ids


def test_a_problem_solved_on_its_callback_counts_as_resolved_at_first_contact(
    client: Any, db: Any, clock: Any, api_token: Any
) -> None:
    ids = _seed(db, resolved_otherwise=False)
    clock.set(AFTER_THE_WEEK)
    response = client.get("/api/metrics?from=2026-11-23", headers=api_token("supervisor"))
    assert response.status_code == 200
    total = response.json["queues"][-1]
    assert total["queue"] == "*" and total["calls"] == 4
    assert (total["fcr_base"], total["fcr_resolved"], total["fcr_rate"]) == (4, 3, 0.75)
    assert (total["repeat_base"], total["repeat_contacts"], total["repeat_rate"]) == (4, 1, 0.25)
    assert (total["promises_due"], total["promises_kept"], total["promises_connected"]) == (1, 1, 1)
    assert total["resolved_by_other_contact"] == 0
    # Routing's own answer for one contact agrees.
    with db.session() as session:
        assert resolved_at_first_contact(session, ids["B"], clock.now()) is True
        assert resolved_at_first_contact(session, ids["C1"], clock.now()) is False


def test_a_callback_marked_follow_up_leaves_its_booking_call_unresolved(
    client: Any, db: Any, clock: Any, api_token: Any
) -> None:
    ids = _seed(db, resolved_otherwise=False)
    with db.session() as session:
        session.get(Contact, ids["B-callback"]).resolved = False
        session.commit()
    clock.set(AFTER_THE_WEEK)
    total = client.get("/api/metrics?from=2026-11-23", headers=api_token("supervisor")).json["queues"][-1]
    assert (total["fcr_base"], total["fcr_resolved"]) == (4, 2)
    with db.session() as session:
        assert resolved_at_first_contact(session, ids["B"], clock.now()) is False


def test_a_callback_resolved_by_another_contact_is_counted_as_such(
    client: Any, db: Any, clock: Any, api_token: Any
) -> None:
    _seed(db, resolved_otherwise=True)
    clock.set(AFTER_THE_WEEK)
    total = client.get("/api/metrics?from=2026-11-23", headers=api_token("supervisor")).json["queues"][-1]
    # 6 calls: D 14:00 was not resolved first time (its caller had to get through again), D 14:30 was.
    assert total["calls"] == 6
    assert (total["fcr_base"], total["fcr_resolved"]) == (6, 4)
    assert (total["repeat_base"], total["repeat_contacts"]) == (6, 2)
    assert total["resolved_by_other_contact"] == 1
    assert total["promises_due"] == 1  # the resolved one is not a promise still to keep
    assert total["kept_rate"] == pytest.approx(1.0)
