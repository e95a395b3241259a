"""The callbacks JSON API: book from a CRM, see slots and promises, cancel and move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callbacks.models import CallbackPromise
from telephony.models import SmsMessage
from terugbel.clock import ManualClock
from terugbel.db import Database

AMS = ZoneInfo("Europe/Amsterdam")


def local(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, d, hh, mm, tzinfo=AMS).astimezone(UTC)


@pytest.fixture
def technisch(make_queue: Callable[..., Any], make_agent: Callable[..., Any], make_intent: Callable[..., Any]) -> Any:
    queue = make_queue("technisch")
    for i in range(4):
        make_agent(
            f"Agent {i}", f"+3161111000{i}", ("technisch",), shifts=[(local(d, 8), local(d, 21)) for d in (23, 24)]
        )
    make_intent("modem", queue)
    return queue


def sms_bodies(db: Database) -> list[tuple[str | None, str]]:
    with db.session() as session:
        return [(m.purpose, m.body) for m in session.scalars(select(SmsMessage).order_by(SmsMessage.id))]


def test_book_from_a_crm_with_a_time_in_words(
    client: Any, api_token: Callable[[str], dict[str, str]], technisch: Any, clock: ManualClock, db: Database
) -> None:
    response = client.post(
        "/api/callbacks",
        json={"number": "06 12345678", "intent": "modem", "preferred_text": "morgen om tien uur", "problem": "modem"},
        headers=api_token("agent"),
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["number"] == "+31612345678" and body["source"] == "api" and body["state"] == "booked"
    assert datetime.fromisoformat(body["window_start"]) == local(24, 10)
    assert datetime.fromisoformat(body["window_end"]) == local(24, 10, 15)
    # The same SMS as from the phone menu, sent after commit.
    [(purpose, text)] = sms_bodies(db)
    assert purpose == "confirmation" and "morgen tussen 10:00 en 10:15" in text


def test_booking_refuses_bad_input_with_the_field(
    client: Any, api_token: Callable[[str], dict[str, str]], technisch: Any, db: Database
) -> None:
    headers = api_token("agent")
    landline = client.post("/api/callbacks", json={"number": "020 123 4567", "queue": "technisch"}, headers=headers)
    assert landline.status_code == 422
    assert "mobiel" in landline.json["errors"]["json"]["number"][0]
    english = client.post(
        "/api/callbacks", json={"number": "0900 1234567", "queue": "technisch", "language": "en"}, headers=headers
    )
    assert english.status_code == 422 and "premium" in english.json["errors"]["json"]["number"][0]
    no_queue = client.post("/api/callbacks", json={"number": "0612345678"}, headers=headers)
    assert no_queue.status_code == 422 and "intent" in no_queue.json["errors"]["json"]
    unknown = client.post("/api/callbacks", json={"number": "0612345678", "queue": "nope"}, headers=headers)
    assert unknown.status_code == 422 and "queue" in unknown.json["errors"]["json"]
    words = client.post(
        "/api/callbacks",
        json={"number": "0612345678", "queue": "technisch", "preferred_text": "blabla"},
        headers=headers,
    )
    assert words.status_code == 422 and "preferred_text" in words.json["errors"]["json"]
    with db.session() as session:
        assert session.scalars(select(CallbackPromise)).first() is None


def test_needs_a_token(client: Any, technisch: Any) -> None:
    assert client.post("/api/callbacks", json={"number": "0612345678", "queue": "technisch"}).status_code == 401
    assert client.get("/api/slots?queue=technisch").status_code == 401


def test_slots_show_capacity_and_bookings(
    client: Any, api_token: Callable[[str], dict[str, str]], technisch: Any
) -> None:
    headers = api_token("agent")
    client.post(
        "/api/callbacks",
        json={"number": "0612345678", "queue": "technisch", "preferred_time": local(23, 11).isoformat()},
        headers=headers,
    )
    response = client.get(
        "/api/slots",
        query_string={"queue": "technisch", "from": local(23, 11).isoformat(), "to": local(23, 12).isoformat()},
        headers=headers,
    )
    assert response.status_code == 200
    slots = response.json
    assert [datetime.fromisoformat(s["starts_at"]) for s in slots] == [local(23, 11, 15 * q) for q in range(4)]
    assert (slots[0]["capacity"], slots[0]["booked"], slots[0]["room"]) == (3, 1, 2)
    assert (
        client.get(
            "/api/slots",
            query_string={"queue": "technisch", "from": local(23, 11).isoformat(), "to": local(23, 10).isoformat()},
            headers=headers,
        ).status_code
        == 422
    )


def test_list_cancel_and_move(
    client: Any, api_token: Callable[[str], dict[str, str]], technisch: Any, db: Database
) -> None:
    headers = api_token("agent")
    first = client.post(
        "/api/callbacks",
        json={"number": "0612345678", "queue": "technisch", "preferred_time": local(23, 11).isoformat()},
        headers=headers,
    ).json
    second = client.post(
        "/api/callbacks", json={"number": "0687654321", "queue": "technisch", "language": "en"}, headers=headers
    ).json
    listed = client.get("/api/callbacks", query_string={"state": "booked", "queue": "technisch"}, headers=headers).json
    assert [p["id"] for p in listed] == [second["id"], first["id"]]  # by window: 09:15 before 11:00
    window = {"from": local(23, 10).isoformat(), "to": local(23, 12).isoformat()}
    assert [p["id"] for p in client.get("/api/callbacks", query_string=window, headers=headers).json] == [first["id"]]
    before_ten = {"to": local(23, 10).isoformat()}  # windows that start before 10:00
    listed = client.get("/api/callbacks", query_string=before_ten, headers=headers).json
    assert [p["id"] for p in listed] == [second["id"]]
    listed = client.get("/api/callbacks", query_string={"from": local(23, 11).isoformat()}, headers=headers).json
    assert [p["id"] for p in listed] == [first["id"]]  # from is inclusive

    moved = client.post(
        f"/api/callbacks/{first['id']}/move", json={"preferred_text": "vandaag om 15:00"}, headers=headers
    )
    assert moved.status_code == 200
    assert datetime.fromisoformat(moved.json["window_start"]) == local(23, 15)
    old = client.get("/api/callbacks", query_string={"state": "moved"}, headers=headers).json
    assert [(p["id"], p["moved_to_id"]) for p in old] == [(first["id"], moved.json["id"])]

    cancelled = client.post(f"/api/callbacks/{second['id']}/cancel", json={}, headers=headers)
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled"
    assert client.post(f"/api/callbacks/{second['id']}/cancel", json={}, headers=headers).status_code == 409
    assert client.post(f"/api/callbacks/{second['id']}/move", json={}, headers=headers).status_code == 409
    assert client.post("/api/callbacks/99999/cancel", json={}, headers=headers).status_code == 404
    purposes = [purpose for purpose, _ in sms_bodies(db)]
    assert purposes == ["confirmation", "confirmation", "confirmation", "cancelled"]


def test_openapi_documents_the_callbacks_api(client: Any) -> None:
    paths = client.get("/api/openapi.json").json["paths"]
    assert {
        "/api/callbacks",
        "/api/slots",
        "/api/callbacks/{promise_id}/cancel",
        "/api/callbacks/{promise_id}/move",
    } <= set(paths)
