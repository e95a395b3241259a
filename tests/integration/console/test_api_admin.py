"""The administration API: a contact center set up from an empty database, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from callbacks.booking import book_callback
from callbacks.models import CallbackPromise
from routing.models import Agent, BusinessHours, Queue, Shift
from telephony.outbox import pending_messages
from terugbel.audit import AuditEntry
from terugbel.clock import ManualClock
from terugbel.db import Database

AMS = ZoneInfo("Europe/Amsterdam")
WEEKDAYS = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(5)]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=AMS).astimezone(UTC)


@pytest.fixture
def karin(api_token: Any) -> dict[str, str]:
    return api_token("supervisor")


def counts(db: Database) -> tuple[int, int, int, int]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Queue)) or 0,
            session.scalar(select(func.count()).select_from(Agent)) or 0,
            session.scalar(select(func.count()).select_from(BusinessHours)) or 0,
            session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def test_a_center_from_an_empty_database(client: Any, karin: dict[str, str], db: Database) -> None:
    queue = client.post(
        "/api/queues",
        json={"name": "technisch", "label": "Technische vragen", "callback_share_percent": 25, "hours": WEEKDAYS},
        headers=karin,
    )
    assert queue.status_code == 201, queue.json
    body = queue.json
    assert (body["name"], body["skill"], body["timezone"], body["holiday_country"]) == (
        "technisch",
        "technisch",
        "Europe/Amsterdam",
        "NL",
    )
    assert (body["callback_share_percent"], body["slot_minutes"], body["default_handle_seconds"]) == (25, 15, 360)
    assert body["hours"] == WEEKDAYS and body["open"] is True  # Monday 09:00

    agent = client.post(
        "/api/agents", json={"name": "Emma Clarke", "phone": "06 1111 0009", "skills": ["technisch"]}, headers=karin
    )
    assert agent.status_code == 201, agent.json
    assert (agent.json["phone"], agent.json["language"], agent.json["active"], agent.json["state"]) == (
        "+31611110009",
        "nl",
        True,
        "away",
    )
    shift = client.post(
        "/api/shifts",
        json={"agent_id": agent.json["id"], "starts_at": "2026-11-24T08:00", "ends_at": "2026-11-24T17:00"},
        headers=karin,
    )
    assert shift.status_code == 201, shift.json
    assert shift.json["starts_at"] == "2026-11-24T07:00:00+00:00"

    listed = client.get("/api/shifts", query_string={"agent_id": agent.json["id"]}, headers=karin).json
    assert [s["id"] for s in listed] == [shift.json["id"]]
    assert client.get(f"/api/agents/{agent.json['id']}", headers=karin).json["skills"] == ["technisch"]
    [listed_queue] = client.get("/api/queues", headers=karin).json
    assert listed_queue["id"] == body["id"] and listed_queue["hours"] == WEEKDAYS
    with db.session() as session:
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [a.action for a in audit] == ["queue.create", "queue.update", "queue.hours", "agent.create", "shift.add"]
        assert all(a.actor == "test-supervisor" for a in audit)
        assert all("+31611110009" not in str(a.details) and "0611110009" not in str(a.details) for a in audit)

    assert client.delete(f"/api/shifts/{shift.json['id']}", headers=karin).status_code == 204
    assert client.delete(f"/api/shifts/{shift.json['id']}", headers=karin).status_code == 404


def test_an_agent_token_sees_no_phone_numbers(client: Any, api_token: Any, make_queue: Any, make_agent: Any) -> None:
    make_queue("technisch")
    make_agent("Sanne", "+31611110001", ("technisch",))
    [agent] = client.get("/api/agents", headers=api_token("agent")).json
    assert agent["phone"] is None and agent["language"] == "nl"
    emma = {"name": "Emma", "phone": "+31611110009", "skills": ["technisch"]}
    assert client.post("/api/agents", json=emma, headers=api_token("agent")).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Emma", "phone": "+31611110001", "skills": ["technisch"]}, "phone"),  # Sanne's, active
        ({"name": "Emma", "phone": "12", "skills": ["technisch"]}, "phone"),
        ({"name": "Emma", "phone": "+31611110009", "skills": []}, "skills"),
        ({"name": "Emma", "phone": "+31611110009", "skills": ["retentie"]}, "skills"),
        ({"name": "Emma", "phone": "+31611110009"}, "skills"),
        ({"name": " ", "phone": "+31611110009", "skills": ["technisch"]}, "name"),
        ({"name": "Emma", "phone": "+31611110009", "skills": ["technisch"], "language": "de"}, "language"),
    ],
)
def test_a_bad_agent_is_refused_on_its_field_and_nothing_saved(
    client: Any, karin: dict[str, str], db: Database, make_queue: Any, make_agent: Any, body: dict[str, Any], field: str
) -> None:
    make_queue("technisch")
    make_agent("Sanne", "+31611110001", ("technisch",))
    before = counts(db)
    answer = client.post("/api/agents", json=body, headers=karin)
    assert answer.status_code == 422 and list(answer.json["errors"]["json"]) == [field], answer.json
    assert counts(db) == before


def test_a_left_agents_number_may_be_given_again(
    client: Any, karin: dict[str, str], make_queue: Any, make_agent: Any
) -> None:
    make_queue("technisch")
    sanne = make_agent("Sanne", "+31611110001", ("technisch",))
    assert client.patch(f"/api/agents/{sanne.id}", json={"active": False}, headers=karin).status_code == 200
    again = client.post(
        "/api/agents", json={"name": "Sam", "phone": "+31 6 11110001", "skills": ["technisch"]}, headers=karin
    )
    assert again.status_code == 201
    back = client.patch(f"/api/agents/{sanne.id}", json={"active": True}, headers=karin)
    assert back.status_code == 422 and list(back.json["errors"]["json"]) == ["phone"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hours": [{"weekday": 0, "opens": "17:00", "closes": "08:00"}]}, "hours"),
        ({"hours": [{"weekday": 0, "opens": "08:00", "closes": "12:00"}] * 2}, "hours"),
        ({"callback_share_percent": 0}, "callback_share_percent"),
        ({"callback_share_percent": 150}, "callback_share_percent"),
        ({"name": "facturen"}, "name"),
        ({"name": "Technisch!"}, "name"),
        ({"slot_minutes": 7}, "slot_minutes"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"overflow_queue_id": 2**31 - 1}, "overflow_queue_id"),
    ],
)
def test_a_bad_queue_is_refused_on_its_field_and_nothing_saved(
    client: Any, karin: dict[str, str], db: Database, make_queue: Any, body: dict[str, Any], field: str
) -> None:
    make_queue("facturen")
    before = counts(db)
    created = client.post("/api/queues", json={"name": "technisch", "label": "Technisch", **body}, headers=karin)
    assert created.status_code == 422 and field in created.json["errors"]["json"], created.json
    assert counts(db) == before


def test_a_bad_queue_change_saves_none_of_it(client: Any, karin: dict[str, str], db: Database, make_queue: Any) -> None:
    queue = make_queue("technisch")
    before = counts(db)
    answer = client.patch(
        f"/api/queues/{queue.id}",
        json={"label": "Nieuw", "hours": [{"weekday": 2, "opens": "18:00", "closes": "09:00"}]},
        headers=karin,
    )
    assert answer.status_code == 422 and list(answer.json["errors"]["json"]) == ["hours"]
    assert counts(db) == before
    with db.session() as session:
        assert session.get(Queue, queue.id).label == "Technisch"
    assert client.patch("/api/queues/999", json={"label": "x"}, headers=karin).status_code == 404
    assert client.get("/api/queues/999", headers=karin).status_code == 404
    assert client.patch("/api/agents/999", json={"name": "x"}, headers=karin).status_code == 404


def _booked(db: Database, queue: Any, now: datetime, near: datetime) -> CallbackPromise:
    with db.session() as session:
        return book_callback(
            session,
            queue_id=queue.id,
            number="+31612345678",
            now=now,
            language="nl",
            timezone="Europe/Amsterdam",
            near=near,
        )


def test_letting_an_agent_go_moves_the_callbacks_only_they_staffed(
    client: Any, karin: dict[str, str], db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    queue = make_queue("technisch", default_handle_seconds=60)  # 15 × 0.3 ÷ 1 = 4 places an agent
    emma = make_agent("Emma", "+31611110009", ("technisch",), shifts=[(local(24, 9), local(24, 10))])
    make_agent("Sanne", "+31611110001", ("technisch",), shifts=[(local(24, 10), local(24, 12))])
    promise = _booked(db, queue, clock.now(), local(24, 9))
    assert promise.window_start == local(24, 9)

    answer = client.patch(f"/api/agents/{emma.id}", json={"active": False}, headers=karin)
    assert answer.status_code == 200 and (answer.json["active"], answer.json["state"]) == (False, "away")
    with db.session() as session:
        assert session.get(CallbackPromise, promise.id).state == "moved"
        [moved] = session.scalars(select(CallbackPromise).where(CallbackPromise.state == "booked")).all()
        assert moved.moved_by_us and moved.window_start == local(24, 10) and moved.number == promise.number
        assert moved.reason == "agent deactivated"
        texts = [m for m in pending_messages(session) if m.purpose == "moved_by_us"]
        assert len(texts) == 1 and texts[0].number == "+31612345678"  # moved once, told once
        assert "tussen 10:00 en 10:15" in texts[-1].body
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.update")).all()
        assert entry.details == {"active": False}
    assert [a["name"] for a in client.get("/api/agents", headers=karin).json] == ["Sanne"]
    everyone = client.get("/api/agents", query_string={"include_inactive": "true"}, headers=karin).json
    assert [a["name"] for a in everyone] == ["Emma", "Sanne"]


def test_a_smaller_callback_share_re_plans_the_queue(
    client: Any, karin: dict[str, str], db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    queue = make_queue("technisch", default_handle_seconds=60)
    make_agent("Emma", "+31611110009", ("technisch",), shifts=[(local(24, 9), local(24, 12))])
    promise = _booked(db, queue, clock.now(), local(24, 9))
    # 15 minutes × 1 agent × 0.05 ÷ 1 = 0.75: no place in any slot at 5 % (4 at 30 %).
    answer = client.patch(f"/api/queues/{queue.id}", json={"callback_share_percent": 5}, headers=karin)
    assert answer.status_code == 200 and answer.json["callback_share_percent"] == 5
    with db.session() as session:
        assert session.get(CallbackPromise, promise.id).state != "booked"
        assert session.get(CallbackPromise, promise.id).state in {"moved", "missed"}
        assert [m.purpose for m in pending_messages(session)][-1] in {"moved_by_us", "cannot_keep"}
    unchanged = client.patch(f"/api/queues/{queue.id}", json={"label": "Techniek"}, headers=karin)
    assert unchanged.status_code == 200 and unchanged.json["label"] == "Techniek"


def test_shifts_refuse_bad_times_on_their_field(
    client: Any, karin: dict[str, str], db: Database, make_queue: Any, make_agent: Any
) -> None:
    make_queue("technisch")
    emma = make_agent("Emma", "+31611110009", ("technisch",), shifts=[])
    backwards = {"agent_id": emma.id, "starts_at": "2026-11-24T17:00", "ends_at": "2026-11-24T08:00"}
    answer = client.post("/api/shifts", json=backwards, headers=karin)
    assert answer.status_code == 422 and list(answer.json["errors"]["json"]) == ["ends_at"]
    nobody = {**backwards, "agent_id": 999, "ends_at": "2026-11-24T18:00"}
    answer = client.post("/api/shifts", json=nobody, headers=karin)
    assert answer.status_code == 422 and list(answer.json["errors"]["json"]) == ["agent_id"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Shift)) == 0
