"""The routing JSON API: story 8 end to end, queues, agents and caller history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.rest import Client

from routing.distribution import enqueue_caller
from routing.models import Agent, Contact
from routing.rules import ACTION_KEYS, CONDITION_KEYS
from telephony.simulator import Simulator
from telephony.twilio_adapter import RebasedHttpClient, build_telephony
from terugbel.audit import AuditEntry
from terugbel.clock import ManualClock
from terugbel.db import Database
from terugbel.runtime import Runtime
from terugbel.settings import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN
from tests.integration.routing.fixtures import add_contact, add_waiting

RULE = {
    "name": "Opzeggers naar retentie",
    "conditions": {"intent_in": ["opzeggen"]},
    "actions": {"route_to_queue": "retnetie"},
}


def _center(make_queue: Any, make_agent: Any, make_intent: Any, make_caller: Any) -> dict[str, Any]:
    facturen = make_queue("facturen")
    retentie = make_queue("retentie")
    return {
        "facturen": facturen,
        "retentie": retentie,
        "sanne": make_agent("Sanne Jansen", "+31611110001", ("facturen",), state="away"),
        "opzeggen": make_intent("opzeggen", facturen, nl=["opzeggen"]),
        "factuur": make_intent("factuur", facturen, nl=["factuur"]),
        "monique": make_caller("+31687654321", "Monique de Vries", language="nl"),
    }


def test_story_8_the_supervisors_change(
    client: Any,
    api_token: Any,
    db: Database,
    clock: ManualClock,
    make_queue: Any,
    make_agent: Any,
    make_intent: Any,
    make_caller: Any,
) -> None:
    _center(make_queue, make_agent, make_intent, make_caller)
    karin = api_token("supervisor")
    client.post("/api/routing/rules", json={"rules": [], "note": "start"}, headers=karin)

    # A typo in the queue name: refused, naming the rule and the field; nothing goes live.
    typo = client.post("/api/routing/rules", json={"rules": [RULE]}, headers=karin)
    assert typo.status_code == 422
    [error] = typo.json["errors"]["rules"]
    assert error["rule_index"] == 0 and error["rule_name"] == "Opzeggers naar retentie"
    assert error["field"] == "actions.route_to_queue" and "retnetie" in error["message"]
    assert client.get("/api/routing/rules", headers=karin).json["version"] == 1

    # Fixed, dry-run as a draft with the caller's words.
    fixed = {**RULE, "actions": {"route_to_queue": "retentie"}}
    dry = client.post(
        "/api/routing/dry-run",
        json={"number": "+31687654321", "words": "ik wil mijn abonnement opzeggen", "rules": [fixed]},
        headers=karin,
    )
    assert dry.status_code == 200, dry.json
    assert dry.json["explanation"].startswith("→ retentie (rule 'Opzeggers naar retentie')")
    assert dry.json["intent"] == "opzeggen" and dry.json["caller_name"] == "Monique de Vries"
    assert dry.json["rule_set_version"] is None

    published = client.post("/api/routing/rules", json={"rules": [fixed], "note": "retentie"}, headers=karin)
    assert published.status_code == 201 and published.json["version"] == 2

    # The next such call follows it.
    live = client.post("/api/routing/dry-run", json={"intent": "opzeggen"}, headers=karin)
    assert live.json["decision"]["queue_name"] == "retentie" and live.json["rule_set_version"] == 2

    # A day later: one-click rollback to the previous version.
    clock.advance(days=1)
    rolled = client.post("/api/routing/rules/rollback", json={"version": 1}, headers=karin)
    assert rolled.status_code == 201
    assert rolled.json["version"] == 3 and rolled.json["rolled_back_from"] == 1 and rolled.json["rules"] == []
    after = client.post("/api/routing/dry-run", json={"intent": "opzeggen"}, headers=karin)
    assert after.json["decision"]["queue_name"] == "facturen"

    versions = client.get("/api/routing/rules/versions", headers=karin).json
    assert [(v["version"], v["live"], v["rule_count"]) for v in versions] == [
        (3, True, 0),
        (2, False, 1),
        (1, False, 0),
    ]
    assert client.get("/api/routing/rules/versions/2", headers=karin).json["rules"] == [fixed]
    with db.session() as session:
        audit = session.query(AuditEntry).order_by(AuditEntry.id).all()
    assert [(a.action, a.actor) for a in audit][-2:] == [
        ("routing.rules.publish", "test-supervisor"),
        ("routing.rules.rollback", "test-supervisor"),
    ]
    assert audit[-1].at - audit[-2].at == timedelta(days=1)


def test_live_rules_report_an_agent_who_left(
    client: Any, api_token: Any, db: Database, make_queue: Any, make_agent: Any, make_intent: Any, make_caller: Any
) -> None:
    center = _center(make_queue, make_agent, make_intent, make_caller)
    karin = api_token("supervisor")
    sanne = center["sanne"].id
    agent_rule = {"name": "VIP naar Sanne", "conditions": {"vip": True}, "actions": {"route_to_agent": sanne}}
    assert client.post("/api/routing/rules", json={"rules": [agent_rule]}, headers=karin).status_code == 201
    assert client.get("/api/routing/rules", headers=karin).json["problems"] == []
    with db.session() as session:
        session.get(Agent, sanne).active = False  # Sanne left the company
    live = client.get("/api/routing/rules", headers=karin).json
    assert [(p["rule_name"], p["field"]) for p in live["problems"]] == [("VIP naar Sanne", "actions.route_to_agent")]
    # Calls keep working: the rule is skipped.
    dry = client.post("/api/routing/dry-run", json={"number": "+31687654321", "intent": "factuur"}, headers=karin)
    assert dry.status_code == 200 and dry.json["decision"]["queue_name"] == "facturen"
    assert dry.json["decision"]["skipped_rules"] == ["VIP naar Sanne"]


def test_rules_api_refusals(
    client: Any, api_token: Any, make_queue: Any, make_agent: Any, make_intent: Any, make_caller: Any
) -> None:
    _center(make_queue, make_agent, make_intent, make_caller)
    karin = api_token("supervisor")
    assert client.get("/api/routing/rules", headers=api_token("agent")).status_code == 403
    assert client.get("/api/routing/rules", headers=karin).json == {"version": None, "rules": [], "problems": []}
    not_a_list = client.post("/api/routing/rules", json={"rules": "alles"}, headers=karin)
    assert not_a_list.status_code == 422 and "rules" in not_a_list.json["errors"]["json"]
    missing = client.post("/api/routing/rules/rollback", json={"version": 7}, headers=karin)
    assert missing.status_code == 404
    no_intent = client.post("/api/routing/dry-run", json={"number": "0687654321"}, headers=karin)
    assert no_intent.status_code == 422 and "intent" in no_intent.json["errors"]["json"]
    unknown = client.post("/api/routing/dry-run", json={"intent": "ruzie"}, headers=karin)
    assert unknown.status_code == 422 and "intent" in unknown.json["errors"]["json"]
    checked = client.post("/api/routing/rules/validate", json={"rules": [RULE]}, headers=karin).json
    assert not checked["valid"] and checked["errors"][0]["field"] == "actions.route_to_queue"


def test_queues_agents_and_state_changes(
    client: Any,
    api_token: Any,
    db: Database,
    clock: ManualClock,
    make_queue: Any,
    make_agent: Any,
    make_intent: Any,
    make_caller: Any,
) -> None:
    center = _center(make_queue, make_agent, make_intent, make_caller)
    add_waiting(db, center["facturen"], enqueued_at=clock.now() - timedelta(minutes=2), priority=1)
    queues = client.get("/api/queues", headers=api_token("agent")).json
    facturen = next(q for q in queues if q["name"] == "facturen")
    assert facturen["open"] and facturen["waiting"] == 1 and facturen["serving_agents"] == 0
    assert facturen["wait_estimate_seconds"] == 3600  # nobody serving: offer a callback
    agents = client.get("/api/agents", headers=api_token("agent")).json
    assert [(a["name"], a["state"], a["on_shift"]) for a in agents] == [("Sanne Jansen", "away", True)]

    sanne = center["sanne"].id
    wrong = client.put(f"/api/agents/{sanne}/state", json={"state": "reserved"}, headers=api_token("supervisor"))
    assert wrong.status_code == 422 and "state" in wrong.json["errors"]["json"]
    assert (
        client.put("/api/agents/999/state", json={"state": "away"}, headers=api_token("supervisor")).status_code == 404
    )
    changed = client.put(f"/api/agents/{sanne}/state", json={"state": "wrap_up"}, headers=api_token("supervisor"))
    assert changed.status_code == 200 and changed.json["state"] == "wrap_up" and changed.json["reservation"] is None


def test_agent_made_available_gets_the_waiting_caller(
    client: Any,
    api_token: Any,
    db: Database,
    clock: ManualClock,
    runtime: Runtime,
    make_queue: Any,
    make_agent: Any,
    make_intent: Any,
    make_caller: Any,
) -> None:
    center = _center(make_queue, make_agent, make_intent, make_caller)
    simulator = Simulator(clock=clock).start()
    try:
        runtime._telephony = build_telephony(
            runtime.settings.with_overrides(twilio_api_base_url=simulator.rest_base_url)
        )
        rest = Client(
            SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, http_client=RebasedHttpClient(simulator.rest_base_url)
        )
        call_sid = rest.calls.create(to="+31687654321", from_="+3197010000000", url="https://app.example/wait").sid
        with db.session() as session:
            entry = enqueue_caller(
                session, call_sid=call_sid, queue_id=center["facturen"].id, now=clock.now(), priority=1
            )
        changed = client.put(
            f"/api/agents/{center['sanne'].id}/state", json={"state": "available"}, headers=api_token("supervisor")
        )
        assert changed.status_code == 200
        assert changed.json["state"] == "reserved"
        assert changed.json["reservation"]["queue_entry_id"] == entry.id
        assert (simulator.call(call_sid).pending_update or {})["url"].endswith(f"/twilio/voice/connect/{entry.id}")
    finally:
        simulator.stop()


def _unresolved_invoice_handled_by_sanne(db: Database, center: dict[str, Any], started_at: Any) -> None:
    """Monique called about her invoice; Sanne handled it, and it stayed unresolved."""
    add_contact(
        db,
        center["monique"],
        started_at=started_at,
        intent=center["factuur"],
        agent=center["sanne"],
        queue=center["facturen"],
        resolved=False,
    )


def test_caller_history(
    client: Any,
    api_token: Any,
    db: Database,
    clock: ManualClock,
    make_queue: Any,
    make_agent: Any,
    make_intent: Any,
    make_caller: Any,
) -> None:
    center = _center(make_queue, make_agent, make_intent, make_caller)
    now = clock.now()
    _unresolved_invoice_handled_by_sanne(db, center, now - timedelta(days=2))
    add_contact(db, center["monique"], started_at=now - timedelta(days=9), intent=center["factuur"])
    assert client.get("/api/callers/+31687654321/history", headers=api_token("agent")).status_code == 403
    answer = client.get("/api/callers/+31687654321/history", headers=api_token("supervisor"))
    assert answer.status_code == 200
    body = answer.json
    assert body["name"] == "Monique de Vries" and body["unresolved"] is True and body["window_days"] == 7
    [contact] = body["contacts"]
    assert (contact["intent"], contact["agent_name"], contact["queue"], contact["resolved"]) == (
        "factuur",
        "Sanne Jansen",
        "facturen",
        False,
    )
    longer = client.get("/api/callers/0687654321/history?days=10", headers=api_token("supervisor")).json
    assert len(longer["contacts"]) == 2
    assert client.get("/api/callers/+31600000000/history", headers=api_token("supervisor")).status_code == 404
    assert client.get("/api/callers/onzin/history", headers=api_token("supervisor")).status_code == 422
    with db.session() as session:
        assert session.query(Contact).count() == 2


def test_the_repeat_window_and_the_wait_for_the_known_agent_are_operator_settings(
    client: Any,
    api_token: Any,
    runtime: Runtime,
    db: Database,
    clock: ManualClock,
    make_queue: Any,
    make_agent: Any,
    make_intent: Any,
    make_caller: Any,
) -> None:
    """TERUGBEL_REPEAT_WINDOW_DAYS=10 and TERUGBEL_PREFERRED_AGENT_WAIT_SECONDS=30 (load_settings checks them)."""
    center = _center(make_queue, make_agent, make_intent, make_caller)
    # Outside the default seven days, inside ten.
    _unresolved_invoice_handled_by_sanne(db, center, clock.now() - timedelta(days=9))
    supervisor = api_token("supervisor")
    ask = {"number": "+31687654321", "intent": "factuur"}
    default = client.post("/api/routing/dry-run", json=ask, headers=supervisor).json["decision"]
    assert default["repeat_count"] == 0 and default["preferred_agent_id"] is None
    assert client.get("/api/callers/+31687654321/history", headers=supervisor).json["contacts"] == []

    runtime.settings = runtime.settings.with_overrides(repeat_window_days=10, preferred_agent_wait_seconds=30)
    decided = client.post("/api/routing/dry-run", json=ask, headers=supervisor).json["decision"]
    assert decided["repeat_count"] == 1
    assert (decided["preferred_agent_id"], decided["preferred_wait_seconds"]) == (center["sanne"].id, 30)
    history = client.get("/api/callers/+31687654321/history", headers=supervisor).json
    assert history["window_days"] == 10 and history["unresolved"] is True and len(history["contacts"]) == 1


def test_openapi_documents_the_routing_api(client: Any) -> None:
    spec = client.get("/api/openapi.json").json
    for path in [
        "/api/routing/rules",
        "/api/routing/rules/versions",
        "/api/routing/rules/rollback",
        "/api/routing/dry-run",
        "/api/queues",
        "/api/agents",
        "/api/agents/{agent_id}/state",
        "/api/callers/{number}/history",
    ]:
        assert path in spec["paths"], path
    assert "DryRunRequest" in spec["components"]["schemas"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["facturen", "retentie", "09:00", "+3130", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
rule_like = st.fixed_dictionaries(
    {
        "name": st.text(max_size=6),
        "conditions": st.dictionaries(st.sampled_from(CONDITION_KEYS), json_values, max_size=3),
        "actions": st.dictionaries(st.sampled_from(ACTION_KEYS), json_values, max_size=3),
    }
)


@pytest.fixture
def supervisor(make_queue: Any, api_token: Any) -> dict[str, str]:
    """A queue to name in rules, and a supervisor's token headers."""
    make_queue("facturen")
    headers: dict[str, str] = api_token("supervisor")
    return headers


@settings(max_examples=40)
@given(rules=st.lists(rule_like | json_values, max_size=4))
def test_any_json_rule_set_is_answered_never_a_server_error(
    client: Any, supervisor: dict[str, str], rules: list[Any]
) -> None:
    checked = client.post("/api/routing/rules/validate", json={"rules": rules}, headers=supervisor)
    assert checked.status_code in (200, 422)  # 422: not a list of objects, named by marshmallow
    published = client.post("/api/routing/rules", json={"rules": rules}, headers=supervisor)
    assert published.status_code in (201, 422)
    valid = checked.status_code == 200 and checked.json["valid"]
    assert (published.status_code == 201) == valid
    if not valid:
        assert published.json["errors"]
    dry = client.post("/api/routing/dry-run", json={"intent": "x", "rules": rules}, headers=supervisor)
    assert dry.status_code == 422
