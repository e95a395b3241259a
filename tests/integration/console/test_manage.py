"""Incidents, intents, queues, hours, holidays, shifts and slot capacity: validated, saved, audited."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from callbacks.models import CallbackSlot
from routing.models import BusinessHours, Holiday, Incident, Intent, Queue, Shift
from terugbel.audit import AuditEntry
from tests.integration.console_support import logged_in_client


def _error(page: str, element_id: str) -> str | None:
    match = re.search(rf'id="{element_id}-error">([^<]*)<', page)
    return match.group(1) if match else None


def test_incident_is_validated_like_the_api_published_and_resolved(app: Any, db: Any, clock: Any) -> None:
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    base = {
        "csrf_token": token,
        "title": "Storing Utrecht",
        "message_nl": "Er is een storing.",
        "message_en": "There is an outage.",
    }
    nobody = client.post("/console/incidents", data=base)
    assert nobody.status_code == 422
    assert "say whom it matches" in (_error(nobody.get_data(as_text=True), "incident-match_all") or "")
    bad_prefix = client.post("/console/incidents", data={**base, "match_prefixes": "030"})
    assert "prefixes start with +" in (_error(bad_prefix.get_data(as_text=True), "incident-match_prefixes") or "")
    done = client.post(
        "/console/incidents", data={**base, "match_prefixes": "+3130", "expected_fix_at": "2026-11-23T12:00"}
    )
    assert done.status_code == 302
    with db.session() as session:
        incident = session.scalar(select(Incident))
        assert incident is not None and incident.match_prefixes == ["+3130"] and incident.created_by == "supervisor-x"
        assert incident.expected_fix_at is not None and incident.expected_fix_at.hour == 11  # 12:00 in Amsterdam
        incident_id = incident.id
    assert "Storing Utrecht" in client.get("/console/incidents").get_data(as_text=True)
    assert client.post(f"/console/incidents/{incident_id}/resolve", data={"csrf_token": token}).status_code == 302
    with db.session() as session:
        assert session.get(Incident, incident_id).state == "resolved"
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["incident.create", "incident.resolve"]


def test_intent_errors_name_the_field(app: Any, db: Any, clock: Any, make_queue: Any) -> None:
    make_queue("facturen")
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    data = {
        "csrf_token": token,
        "name": "factuur",
        "label_nl": "Factuur",
        "label_en": "Invoice",
        "queue": "facturen",
        "key": "2",
        "phrases_nl": "factuur\nrekening",
        "phrases_en": "invoice",
        "active": "1",
    }
    refused = client.post("/console/intents", data={**data, "queue": "factuuren"})
    assert refused.status_code == 422
    assert "no queue named &#39;factuuren&#39;" in (_error(refused.get_data(as_text=True), "intent-new-queue") or "")
    assert client.post("/console/intents", data={**data, "queue": "facturen"}).status_code == 302
    with db.session() as session:
        intent = session.scalar(select(Intent))
        assert intent is not None and intent.phrases_nl == ["factuur", "rekening"] and intent.key == "2"
        intent_id = intent.id
    changed = client.post(f"/console/intents/{intent_id}", data={**data, "queue": "facturen", "key": "9"})
    assert changed.status_code == 422
    assert "one digit from 1 to 8" in (_error(changed.get_data(as_text=True), f"intent-{intent_id}-key") or "")
    deleted = client.post(f"/console/intents/{intent_id}", data={"csrf_token": token, "action": "delete"})
    assert deleted.status_code == 302
    with db.session() as session:
        assert session.scalar(select(Intent)) is None


def test_queue_settings_hours_and_holidays(app: Any, db: Any, clock: Any, make_queue: Any) -> None:
    queue = make_queue("facturen")
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    settings = {
        "csrf_token": token,
        "label": "Facturen",
        "timezone": "Europe/Amsterdam",
        "wait_threshold_seconds": "90",
        "slot_minutes": "7",
        "callback_share": "50 %",
    }
    shown = client.get(f"/console/queues/{queue.id}").get_data(as_text=True)
    assert 'name="callback_share" type="text" value="30"' in shown  # the share as a percentage
    refused = client.post(f"/console/queues/{queue.id}/settings", data=settings)
    assert _error(refused.get_data(as_text=True), "queue-slot_minutes") == "One of 5, 10, 15, 20, 30 or 60 minutes."
    refused = client.post(f"/console/queues/{queue.id}/settings", data={**settings, "callback_share": "150"})
    assert "a percentage above 0 and at most 100" in (
        _error(refused.get_data(as_text=True), "queue-callback_share") or ""
    )
    assert (
        client.post(f"/console/queues/{queue.id}/settings", data={**settings, "slot_minutes": "10"}).status_code == 302
    )
    hours = {"csrf_token": token, "opens-0": "08:00", "closes-0": "07:00", "opens-1": "08:00", "closes-1": "17:00"}
    refused = client.post(f"/console/queues/{queue.id}/hours", data=hours)
    assert "after the opening time" in (_error(refused.get_data(as_text=True), "hours-closes-0") or "")
    assert client.post(f"/console/queues/{queue.id}/hours", data={**hours, "closes-0": "18:00"}).status_code == 302
    holiday = {"csrf_token": token, "queue_id": str(queue.id), "day": "24-12", "name": "Kerstavond"}
    refused = client.post("/console/holidays", data=holiday)
    assert "a date like" in (_error(refused.get_data(as_text=True), "holiday-day") or "")
    assert client.post("/console/holidays", data={**holiday, "day": "2026-12-24"}).status_code == 302
    with db.session() as session:
        stored = session.get(Queue, queue.id)
        assert stored is not None and stored.slot_minutes == 10 and stored.callback_share == 0.5
        days = sorted(
            h.weekday for h in session.scalars(select(BusinessHours).where(BusinessHours.queue_id == queue.id))
        )
        assert days == [0, 1]
        holiday_id = session.scalar(select(Holiday.id))
    assert "Kerstavond" in client.get(f"/console/queues/{queue.id}").get_data(as_text=True)
    assert client.post(f"/console/holidays/{holiday_id}/delete", data={"csrf_token": token}).status_code == 302


def test_shifts_and_slot_capacity(app: Any, db: Any, clock: Any, make_queue: Any, make_agent: Any) -> None:
    queue = make_queue("facturen")
    agent = make_agent("Sanne", skills=("facturen",), shifts=[])
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    shift = {"csrf_token": token, "agent_id": str(agent.id), "starts": "2026-11-24T09:00", "ends": "2026-11-24T08:00"}
    refused = client.post("/console/shifts", data=shift)
    assert "after the start" in (_error(refused.get_data(as_text=True), "shift-ends") or "")
    dutch, dutch_token = logged_in_client(app, db, clock.now(), "supervisor", language="nl")
    refused_in_dutch = dutch.post("/console/shifts", data={**shift, "csrf_token": dutch_token})
    dutch_error = _error(refused_in_dutch.get_data(as_text=True), "shift-ends")
    assert dutch_error == "moet na het begin liggen, hoogstens 16 uur later"
    assert client.post("/console/shifts", data={**shift, "ends": "2026-11-24T17:00"}).status_code == 302
    with db.session() as session:
        stored = session.scalar(select(Shift))
        assert stored is not None and stored.starts_at.hour == 8  # 09:00 in Amsterdam is 08:00 UTC
        shift_id = stored.id
        slot = CallbackSlot(
            queue_id=queue.id,
            starts_at=clock.now() + timedelta(hours=2),
            ends_at=clock.now() + timedelta(hours=2, minutes=15),
            capacity=3,
        )
        session.add(slot)
        session.flush()
        slot_id = slot.id
    refused = client.post(f"/console/slots/{slot_id}/capacity", data={"csrf_token": token, "override": "veel"})
    assert refused.status_code == 422
    assert (
        client.post(f"/console/slots/{slot_id}/capacity", data={"csrf_token": token, "override": "1"}).status_code
        == 302
    )
    with db.session() as session:
        stored_slot = session.get(CallbackSlot, slot_id)
        assert stored_slot is not None and stored_slot.capacity_override == 1 and stored_slot.capacity == 1
    assert client.post(f"/console/shifts/{shift_id}/delete", data={"csrf_token": token}).status_code == 302
    with db.session() as session:
        assert session.scalar(select(Shift)) is None
        assert "shift.delete" in session.scalars(select(AuditEntry.action)).all()


def test_a_shift_removed_or_a_slot_closed_in_the_console_moves_the_callbacks_that_no_longer_fit(
    app: Any, db: Any, clock: Any, make_queue: Any, make_agent: Any
) -> None:
    """Story 5 from the console: capacity follows the shifts, the latest booking moves at once, its
    caller is texted the new window, and the board lists it as moved by us."""
    from zoneinfo import ZoneInfo

    from callbacks.booking import book_callback
    from callbacks.models import CallbackPromise
    from callbacks.offers import ensure_slots
    from console.queries import supervisor_board
    from telephony.outbox import pending_messages

    ams = ZoneInfo("Europe/Amsterdam")
    queue = make_queue("facturen")
    day = clock.now().astimezone(ams).replace(hour=9, minute=0) + timedelta(days=1)
    agents = [
        make_agent(f"Agent {i}", f"+3161111000{i}", ("facturen",), shifts=[(day, day + timedelta(hours=8))])
        for i in range(4)
    ]  # 4 agents × 15 minutes × 30 % ÷ 6 minutes: 3 places a slot
    ten = day + timedelta(hours=1)
    with db.session() as session:
        made = ensure_slots(session, queue.id, ten, ten + timedelta(hours=1), clock.now())
        slots = {slot.starts_at: slot.id for slot in made}
    for n in range(3):
        with db.session() as session:
            book_callback(
                session, queue_id=queue.id, number=f"+3162000000{n}", language="nl", timezone="Europe/Amsterdam",
                now=clock.now() + timedelta(seconds=n), slot_id=slots[ten],
            )  # fmt: skip
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    with db.session() as session:
        shift_id = session.scalar(select(Shift.id).where(Shift.agent_id == agents[3].id))
    assert client.post(f"/console/shifts/{shift_id}/delete", data={"csrf_token": token}).status_code == 302

    def promise_of(session: Any, number: str) -> Any:
        booked = select(CallbackPromise).where(CallbackPromise.number == number, CallbackPromise.state == "booked")
        return session.scalars(booked).one()

    with db.session() as session:
        assert session.get(CallbackSlot, slots[ten]).capacity == 2
        moved = promise_of(session, "+31620000002")  # the latest booked moves; the first two stay
        assert (moved.window_start, moved.moved_by_us) == (ten + timedelta(minutes=15), True)
        assert promise_of(session, "+31620000000").window_start == ten
        texts = pending_messages(session)
        [text] = [m for m in texts if m.number == "+31620000002" and m.purpose == "moved_by_us"]
        assert "morgen tussen 10:15 en 10:30" in text.body
        assert [line.promise_id for line in supervisor_board(session, clock.now()).moved_by_us] == [moved.id]

    closed = {"csrf_token": token, "override": "", "closed": "on"}
    assert client.post(f"/console/slots/{slots[ten + timedelta(minutes=15)]}/capacity", data=closed).status_code == 302
    with db.session() as session:
        assert promise_of(session, "+31620000002").window_start == ten + timedelta(minutes=30)
