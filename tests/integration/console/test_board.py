"""The supervisor board: menu and queues, agents, callbacks due, at risk, moved by us, incidents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from callbacks.models import CallbackPromise
from callbacks.rebalance import NO_SLOT_WITH_ROOM
from console.texts import tr
from ivr.models import CallSession
from routing.models import AgentState, Contact, Incident, QueueEntry
from tests.integration.console_support import logged_in_client


def board_section(page: str, name: str) -> str:
    start = page.index(f'<section aria-labelledby="{name}-heading">')
    return page[start : page.index("</section>", start)]


def test_board_shows_the_live_state(
    app: Any, db: Any, clock: Any, make_queue: Any, make_agent: Any, make_caller: Any
) -> None:
    now = clock.now()
    queue = make_queue("facturen")
    make_agent("Sanne", skills=("facturen",))
    make_agent("Ahmed", phone="+31611110002", skills=("facturen",), state="away")
    caller = make_caller("+31611112222", "Monique <b>de Vries</b>")
    with db.session() as session:
        menu_contact = Contact(channel="call", started_at=now - timedelta(seconds=20))
        session.add(menu_contact)
        session.flush()
        session.add(
            CallSession(
                call_sid="CA1",
                contact_id=menu_contact.id,
                language="nl",
                step="ask_problem",
                answered_at=now,
                updated_at=now,
            )
        )
        waiting_contact = Contact(channel="call", caller_id=caller.id, started_at=now - timedelta(minutes=3))
        session.add(waiting_contact)
        session.flush()
        session.add(
            QueueEntry(
                call_sid="CA2",
                queue_id=queue.id,
                contact_id=waiting_contact.id,
                priority=2,
                enqueued_at=now - timedelta(minutes=2),
            )
        )
        base = dict(queue_id=queue.id, language="nl", timezone="Europe/Amsterdam", booked_at=now)
        session.add(
            CallbackPromise(
                number="+31611112222",
                caller_id=caller.id,
                window_start=now + timedelta(minutes=30),
                window_end=now + timedelta(minutes=45),
                planned_dial_at=now + timedelta(minutes=31),
                **base,
            )
        )
        session.add(
            CallbackPromise(
                number="+31633334444",
                window_start=now + timedelta(hours=3),
                window_end=now + timedelta(hours=3, minutes=15),
                planned_dial_at=now + timedelta(hours=3),
                at_risk=True,
                reason="no agent on shift",
                **base,
            )
        )
        session.add(
            CallbackPromise(
                number="+31655556666",
                window_start=now + timedelta(days=1),
                window_end=now + timedelta(days=1, minutes=15),
                planned_dial_at=now + timedelta(days=1),
                moved_by_us=True,
                state="moved",
                reason="capacity dropped",
                **base,
            )
        )
        session.add(
            Incident(
                title="Storing regio Utrecht",
                message_nl="x",
                message_en="x",
                match_prefixes=["+3130"],
                started_at=now - timedelta(hours=1),
                expected_fix_at=now + timedelta(hours=2),
                created_by="karin",
            )
        )
    client, _ = logged_in_client(app, db, now, "supervisor")
    page = client.get("/console/board").get_data(as_text=True)
    assert 'id="in-menu">1<' in page
    assert 'id="board-queue-facturen"' in page and "2 min 00 s" in page
    waiting = board_section(page, "waiting")
    assert "Monique &lt;b&gt;de Vries&lt;/b&gt;" in waiting and "<td>2</td>" in waiting
    assert "Sanne" in page and "Ahmed" in page
    due = board_section(page, "due")
    assert "Monique &lt;b&gt;de Vries&lt;/b&gt;" in due and "+31633334444" not in due
    risk = board_section(page, "risk")
    assert "+31633334444" in risk and "no agent on shift" in risk
    moved = board_section(page, "moved")
    assert "+31655556666" in moved and "capacity dropped" in moved
    # What needs action leads the board, coloured by how urgent it is.
    assert page.index('id="tile-at-risk"') < page.index('id="queues-heading"')
    assert page.index('id="risk-heading"') < page.index('id="queues-heading"')
    assert 'class="tile bad" id="tile-at-risk"' in page
    assert 'id="tile-fcr"' in page
    assert "Storing regio Utrecht" in page
    partial = client.get("/console/board/panel", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert partial.startswith('<div id="board-panel"') and "<html" not in partial


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_board_names_every_agent_state_in_words(
    app: Any, db: Any, clock: Any, make_queue: Any, make_agent: Any, language: str
) -> None:
    """No raw state name (`on_call`, `wrap_up`) on the board, and in Dutch no English one either."""
    make_queue("facturen")
    agents = {
        state: make_agent(f"Agent {n}", phone=f"+3161111000{n}", skills=("facturen",), state=state.value)
        for n, state in enumerate(AgentState)
    }
    client, _ = logged_in_client(app, db, clock.now(), "supervisor", language=language)
    page = client.get("/console/board").get_data(as_text=True)
    for state, agent in agents.items():
        row = page[page.index(f'id="board-agent-{agent.id}"') :]
        shown = row[row.index('<span class="badge') : row.index("</span>")].split(">", 1)[1]
        assert shown == tr(state.value, language) and "_" not in shown, (state, shown)
        if language == "nl":
            assert shown != state.value, state
    assert "on_call" not in page and "wrap_up" not in page


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_board_says_why_a_promise_is_at_risk_or_moved_in_the_users_language(
    app: Any, db: Any, clock: Any, make_queue: Any, language: str
) -> None:
    queue = make_queue("facturen")
    now = clock.now()
    reasons = {
        "+31611110001": "2 attempts without reaching the caller (last: busy)",
        "+31611110002": "invalid number: unallocated",
        "+31611110003": NO_SLOT_WITH_ROOM,
    }
    with db.session() as session:
        for n, (number, reason) in enumerate(reasons.items()):
            session.add(
                CallbackPromise(
                    number=number,
                    queue_id=queue.id,
                    language="nl",
                    timezone="Europe/Amsterdam",
                    booked_at=now,
                    window_start=now + timedelta(hours=1 + n),
                    window_end=now + timedelta(hours=1 + n, minutes=15),
                    planned_dial_at=now + timedelta(hours=1 + n),
                    at_risk=n < 2,
                    moved_by_us=n == 2,
                    state="booked" if n < 2 else "moved",
                    reason=reason,
                )
            )
    client, _ = logged_in_client(app, db, now, "supervisor", language=language)
    page = client.get("/console/board").get_data(as_text=True)
    risk, moved = board_section(page, "risk"), board_section(page, "moved")
    if language == "nl":
        assert "2 pogingen zonder de beller te bereiken (laatste: bezet)" in risk
        assert "ongeldig nummer: unallocated" in risk
        assert "capaciteit verlaagd en de komende dagen geen tijdvak met plaats" in moved
    else:
        assert all(reason in risk + moved for reason in reasons.values())


def test_agents_cannot_open_the_board(app: Any, db: Any, clock: Any, make_agent: Any) -> None:
    agent = make_agent()
    client, _ = logged_in_client(app, db, clock.now(), "agent", agent_id=agent.id)
    assert client.get("/console/board").status_code == 403
    assert client.get("/console/board/panel").status_code == 403


def test_board_json_needs_a_supervisor_token(client: Any, api_token: Any, make_queue: Any) -> None:
    make_queue("facturen")
    assert client.get("/api/board").status_code == 401
    assert client.get("/api/board", headers=api_token("agent")).status_code == 403
    response = client.get("/api/board", headers=api_token("supervisor"))
    assert response.status_code == 200
    assert response.json["in_menu"] == 0
    assert response.json["queues"][0]["name"] == "facturen"
    assert "/api/board" in client.get("/api/openapi.json").json["paths"]


def test_agent_desk_json_for_supervisors(client: Any, api_token: Any, make_agent: Any) -> None:
    sanne = make_agent("Sanne")
    headers = api_token("supervisor")
    response = client.get(f"/api/agents/{sanne.id}/desk", headers=headers)
    assert response.status_code == 200 and response.json["agent_name"] == "Sanne"
    assert response.json["callbacks"] == [] and response.json["state"] == "available"
    assert client.get("/api/agents/999/desk", headers=headers).status_code == 404
    assert client.get(f"/api/agents/{sanne.id}/desk", headers=api_token("agent")).status_code == 403
