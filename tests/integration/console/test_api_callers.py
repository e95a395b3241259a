"""/api/callers: found by number or by part of a name or number, corrected, audited; VIP is routed first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from routing.caller_admin import LAST_CONTACTS, search_callers
from routing.distribution import enqueue_decision, offer_agent
from routing.models import Caller
from routing.route import route_contact
from terugbel.audit import AuditEntry
from terugbel.clock import ManualClock
from terugbel.db import Database
from tests.integration.routing.fixtures import add_contact

NUMBER = "+31612345678"


@pytest.fixture
def callers(make_caller: Any, make_queue: Any, make_agent: Any, make_intent: Any, db: Database, clock: ManualClock):
    queue = make_queue("technisch")
    ahmed = make_agent("Ahmed", "+31611110002", ("technisch",))
    internet = make_intent("internet", queue)
    pieter = make_caller(NUMBER, "Pieter Bakker", language="nl", products=["internet"])
    petra = make_caller("+31687654321", "Petra de Vries")
    make_caller("+32470123456", None)
    for hours in range(7):
        add_contact(db, pieter, started_at=clock.now() - timedelta(hours=hours + 1), intent=internet, queue=queue,
                    agent=ahmed, resolved=hours != 0)  # fmt: skip
    add_contact(db, petra, started_at=clock.now() - timedelta(days=1))
    return {"pieter": pieter, "petra": petra, "queue": queue, "ahmed": ahmed}


def _found(client: Any, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    response = client.get("/api/callers", query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return list(response.json["callers"])


@pytest.mark.parametrize("spelling", ["06 12345678", "+31612345678", "0031 6 1234 5678"])
def test_a_caller_is_found_by_their_number_in_any_spelling(
    client: Any, api_token: Any, callers: Any, clock: ManualClock, spelling: str
) -> None:
    [pieter] = _found(client, api_token(), number=spelling)
    assert (pieter["id"], pieter["number"], pieter["name"]) == (callers["pieter"].id, NUMBER, "Pieter Bakker")
    assert pieter["products"] == ["internet"] and pieter["vip"] is False and pieter["language"] == "nl"
    assert pieter["contacts_count"] == 7
    last = pieter["last_contacts"]
    assert len(last) == LAST_CONTACTS
    assert [entry["started_at"] for entry in last] == sorted((e["started_at"] for e in last), reverse=True)
    assert last[0] | {"contact_id": 0} == {
        "contact_id": 0, "started_at": (clock.now() - timedelta(hours=1)).isoformat(), "channel": "call",
        "intent": "internet", "queue": "technisch", "agent_name": "Ahmed", "outcome": "agent", "resolved": False,
    }  # fmt: skip


def test_an_unknown_number_finds_nobody_and_a_word_is_no_number(client: Any, api_token: Any, callers: Any) -> None:
    assert _found(client, api_token(), number="+31600000000") == []
    refused = client.get("/api/callers", query_string={"number": "niet bellen"}, headers=api_token())
    assert refused.status_code == 422 and "number" in refused.json["errors"]["query"]


def test_a_part_of_a_name_or_a_number_finds_every_match(client: Any, api_token: Any, callers: Any) -> None:
    headers = api_token()
    assert [c["name"] for c in _found(client, headers, q="p")] == ["Petra de Vries", "Pieter Bakker"]
    assert [c["name"] for c in _found(client, headers, q="VRIES")] == ["Petra de Vries"]
    assert [c["name"] for c in _found(client, headers, q="06 1234")] == ["Pieter Bakker"]
    assert [c["number"] for c in _found(client, headers, q="+32 470")] == ["+32470123456"]
    assert [c["name"] for c in _found(client, headers, q="4321")] == ["Petra de Vries"]
    assert _found(client, headers, q="100%") == []  # a wildcard is a character like any other
    [petra] = _found(client, headers, q="Petra")
    assert petra["contacts_count"] == 1 and len(petra["last_contacts"]) == 1


@pytest.mark.parametrize("query", [{}, {"q": "piet", "number": NUMBER}, {"q": "   "}, {"q": "x" * 121}])
def test_a_search_needs_exactly_one_of_number_and_q(client: Any, api_token: Any, query: dict[str, str]) -> None:
    response = client.get("/api/callers", query_string=query, headers=api_token())
    assert response.status_code == 422
    assert set(response.json["errors"]["query"]) <= {"q", "number", "_schema"}


def test_a_search_is_three_statements_however_many_callers_it_finds(db: Database, callers: Any) -> None:
    statements: list[str] = []
    with db.session() as session:
        event.listen(session.connection(), "before_cursor_execute", lambda *args: statements.append(args[2]))
        found = search_callers(session, "e")
    assert len(found) == 2 and len(statements) == 3


def test_a_caller_is_read_and_changed_and_the_audit_keeps_no_name(
    client: Any, api_token: Any, callers: Any, db: Database
) -> None:
    headers = api_token()
    pieter = callers["pieter"].id
    assert client.get(f"/api/callers/{pieter}", headers=headers).json["contacts_count"] == 7
    assert client.get("/api/callers/999999", headers=headers).status_code == 404
    changed = client.patch(
        f"/api/callers/{pieter}", json={"name": "  Piet Bakker-Zoë ", "language": "en", "vip": True}, headers=headers
    )
    assert changed.status_code == 200, changed.json
    assert (changed.json["name"], changed.json["language"], changed.json["vip"]) == ("Piet Bakker-Zoë", "en", True)
    assert client.patch(f"/api/callers/{pieter}", json={"vip": True}, headers=headers).status_code == 200  # no change
    with db.session() as session:
        [entry] = session.scalars(select(AuditEntry)).all()
        assert (entry.action, entry.subject, entry.actor) == ("caller.update", f"caller:{pieter}", "test-supervisor")
        assert entry.details == {"changed": ["language", "name", "vip"], "language": "en", "vip": True}
    cleared = client.patch(f"/api/callers/{pieter}", json={"name": "  ", "language": None}, headers=headers)
    assert (cleared.json["name"], cleared.json["language"]) == (None, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"language": "de"}, "language"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Jan\u0000Smit"}, "name"),
        ({"vip": "yes"}, "vip"),
        ({"vip": 1}, "vip"),
        ({"number": "+31600000000"}, "number"),
    ],
)
def test_a_wrong_change_names_its_field_and_changes_nothing(
    client: Any, api_token: Any, callers: Any, db: Database, body: dict[str, Any], field: str
) -> None:
    pieter = callers["pieter"].id
    response = client.patch(f"/api/callers/{pieter}", json={"vip": True, **body}, headers=api_token())
    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == [field]
    with db.session() as session:
        caller = session.get(Caller, pieter)
        assert caller is not None and caller.vip is False and caller.name == "Pieter Bakker"
        assert session.scalars(select(AuditEntry)).all() == []


def test_callers_are_for_supervisors(client: Any, api_token: Any, callers: Any) -> None:
    agent = api_token("agent")
    assert client.get("/api/callers", query_string={"q": "piet"}, headers=agent).status_code == 403
    assert client.patch(f"/api/callers/{callers['pieter'].id}", json={"vip": True}, headers=agent).status_code == 403


def test_a_caller_made_vip_through_the_api_is_served_first(
    client: Any, api_token: Any, callers: Any, db: Database, clock: ManualClock, make_agent: Any, make_caller: Any
) -> None:
    now = clock.now()
    jan, eva = make_caller("+31620000001", "Jan"), make_caller("+31620000002", "Eva")  # no history: priority 0
    assert client.patch(f"/api/callers/{eva.id}", json={"vip": True}, headers=api_token()).status_code == 200
    with db.session() as session:  # Ahmed is busy, so both wait; Jan since a minute longer
        session.merge(callers["ahmed"]).state = "on_call"
    entries, priorities = {}, {}
    for caller, waited in ((jan, 2), (eva, 1)):
        contact = add_contact(db, caller, started_at=now - timedelta(minutes=waited), outcome="in_progress")
        with db.session() as session:
            decision = route_contact(session, caller_id=None, intent_name="internet", words=None, language="nl",
                                     now=now, contact_id=contact.id)  # fmt: skip
            entries[caller.name] = enqueue_decision(
                session, call_sid=f"CA{contact.id:032d}", decision=decision,
                now=now - timedelta(minutes=waited), contact_id=contact.id,
            ).id  # fmt: skip
            priorities[caller.name] = (decision.priority, "VIP" in decision.explanation)
    assert priorities == {"Jan": (0, False), "Eva": (1, True)}
    sanne = make_agent("Sanne", "+31611110001", ("technisch",))
    with db.session() as session:
        reservation = offer_agent(session, sanne.id, now)
    assert reservation is not None and reservation.queue_entry_id == entries["Eva"]
