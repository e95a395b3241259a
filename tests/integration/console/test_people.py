"""The console's Agents page and new-queue form: saved, audited, errors next to the field, in Dutch too."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from routing.models import Agent, BusinessHours, Queue
from terugbel.audit import AuditEntry
from tests.integration.console_support import logged_in_client


def _error(page: str, element_id: str) -> str | None:
    match = re.search(rf'id="{element_id}-error">([^<]*)<', page)
    return match.group(1) if match else None


def test_an_agent_is_added_changed_and_let_go(app: Any, db: Any, clock: Any, make_queue: Any) -> None:
    make_queue("technisch")
    make_queue("facturen")
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    emma = {
        "csrf_token": token,
        "name": "Emma Clarke",
        "phone": "06 1111 0009",
        "skills": ["technisch"],
        "language": "en",
    }
    assert client.post("/console/agents", data=emma).status_code == 302
    page = client.get("/console/agents").get_data(as_text=True)
    assert "Emma Clarke" in page and "+31 6 11110009" in page and "English" in page

    twice = client.post("/console/agents", data={**emma, "name": "Emma again"})
    assert twice.status_code == 422
    assert _error(twice.get_data(as_text=True), "agent-phone") == "Another active agent has this number."
    nothing = client.post("/console/agents", data={**emma, "phone": "+31611110008", "skills": []})
    assert _error(nothing.get_data(as_text=True), "agent-skills") == "Choose at least one queue."
    with db.session() as session:
        agent = session.scalars(select(Agent)).one()
        agent_id = agent.id

    moved = client.post(f"/console/agents/{agent_id}", data={**emma, "skills": ["technisch", "facturen"]})
    assert moved.status_code == 302
    unconfirmed = client.post(f"/console/agents/{agent_id}/active", data={"csrf_token": token, "active": "0"})
    assert unconfirmed.status_code == 422
    assert _error(unconfirmed.get_data(as_text=True), "agent-confirm") == "Tick the box to confirm."
    gone = client.post(f"/console/agents/{agent_id}/active", data={"csrf_token": token, "active": "0", "confirm": "1"})
    assert gone.status_code == 302
    with db.session() as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None and (agent.active, agent.state, agent.skills) == (
            False,
            "away",
            ["facturen", "technisch"],
        )
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["agent.create", "agent.update", "agent.update"]
    assert client.get("/console/agents/999").status_code == 404


def test_a_new_queue_from_the_console(app: Any, db: Any, clock: Any) -> None:
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    form = {
        "csrf_token": token,
        "name": "technisch",
        "label": "Technische vragen",
        "callback_share_percent": "25",
        "slot_minutes": "15",
        "default_handle_seconds": "300",
        "opens-0": "08:00",
        "closes-0": "17:00",
    }
    backwards = client.post("/console/queues/new", data={**form, "closes-0": "07:00", "callback_share_percent": "0"})
    assert backwards.status_code == 422
    page = backwards.get_data(as_text=True)
    assert "closing time after the opening time" in (_error(page, "queue-hours") or "")
    assert _error(page, "queue-callback_share_percent") == "A percentage above 0 and at most 100 (e.g. 30)."
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Queue)) == 0
    created = client.post("/console/queues/new", data=form)
    assert created.status_code == 302
    with db.session() as session:
        queue = session.scalars(select(Queue)).one()
        assert (queue.label, queue.callback_share, queue.default_handle_seconds) == ("Technische vragen", 0.25, 300)
        [hours] = session.scalars(select(BusinessHours)).all()
        assert (hours.weekday, hours.opens.hour, hours.closes.hour) == (0, 8, 17)
    assert created.headers["Location"].endswith(f"/console/queues/{queue.id}")
    assert "/console/queues/new" in client.get("/console/queues").get_data(as_text=True)


def test_errors_in_dutch(app: Any, db: Any, clock: Any, make_queue: Any) -> None:
    make_queue("technisch")
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    client.post("/console/language", data={"csrf_token": token, "language": "nl", "next": "/console/agents"})
    bad = client.post(
        "/console/agents", data={"csrf_token": token, "name": "Emma", "phone": "12", "skills": ["technisch"]}
    )
    assert bad.status_code == 422
    message = _error(bad.get_data(as_text=True), "agent-phone") or ""
    assert message and "Not a phone number" not in message
