"""The routing rules editor (story 8): a typo shown on its field, a dry run, publish, roll back, audit."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from console.rule_form import rows_from_rules, rules_from_rows
from routing.models import RuleSetVersion
from terugbel.audit import AuditEntry
from tests.integration.console_support import logged_in_client

RETENTION_RULE = {
    "rule-count": "1",
    "rule-0-name": "Opzeggers naar retentie",
    "rule-0-enabled": "1",
    "rule-0-position": "1",
    "rule-0-c-intent_in": "opzeggen",
    "rule-0-a-route_to_queue": "retentei",  # the typo
    "rule-0-a-raise_priority": "1",
    "rule-0-a-stop": "1",
}


def _setup(make_queue: Any, make_intent: Any, make_agent: Any) -> None:
    make_queue("algemeen")
    retentie = make_queue("retentie")
    make_intent("opzeggen", retentie, nl=["opzeggen", "abonnement opzeggen"])
    make_agent("Karin", skills=("retentie", "algemeen"))


def _field_error(page: str, field: str) -> str | None:
    match = re.search(rf'id="err-0-{field}">([^<]*)<', page)
    return match.group(1) if match else None


def test_supervisor_fixes_a_typo_dry_runs_publishes_and_rolls_back(
    app: Any, db: Any, clock: Any, make_queue: Any, make_intent: Any, make_agent: Any
) -> None:
    _setup(make_queue, make_intent, make_agent)
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    form = {**RETENTION_RULE, "csrf_token": token, "action": "check", "dry-words": "ik wil mijn abonnement opzeggen"}

    refused = client.post("/console/rules", data=form)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "unknown queue &#39;retentei&#39;" in (_field_error(page, "a-route_to_queue") or "")
    assert 'id="rule-0-a-route_to_queue" name="rule-0-a-route_to_queue" type="text" value="retentei"' in page

    form["rule-0-a-route_to_queue"] = "retentie"
    checked = client.post("/console/rules", data=form)
    assert checked.status_code == 200
    page = checked.get_data(as_text=True)
    assert "Decision: → retentie (Rule 'Opzeggers naar retentie')" in page
    assert "→ retentie (rule &#39;Opzeggers naar retentie&#39;)" in page  # routing's own explanation
    with db.session() as session:
        assert session.scalar(select(RuleSetVersion)) is None  # a dry run publishes nothing

    dutch, dutch_token = logged_in_client(app, db, clock.now(), "supervisor", language="nl")
    explained = dutch.post("/console/rules", data={**form, "csrf_token": dutch_token}).get_data(as_text=True)
    assert "→ retentie (regel &#39;Opzeggers naar retentie&#39;): onderwerp is opzeggen" in explained

    published = client.post("/console/rules", data={**form, "action": "publish", "note": "retentie"})
    assert published.status_code == 302
    editor = client.get("/console/rules").get_data(as_text=True)
    assert "Published as version 1." in editor
    assert 'value="Opzeggers naar retentie"' in editor  # the live set is the form

    # A second version without the rule, then one click back to version 1.
    emptied = {"rule-count": "1", "rule-0-name": "Opzeggers naar retentie", "rule-0-remove": "1"}
    assert client.post("/console/rules", data={**emptied, "csrf_token": token, "action": "publish"}).status_code == 302
    assert client.post("/console/rules/rollback/1", data={"csrf_token": token}).status_code == 302
    with db.session() as session:
        versions = session.scalars(select(RuleSetVersion).order_by(RuleSetVersion.version)).all()
        assert [len(v.rules) for v in versions] == [1, 0, 1]
        assert versions[-1].rolled_back_from == 1
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["routing.rules.publish", "routing.rules.publish", "routing.rules.rollback"]
    editor = client.get("/console/rules").get_data(as_text=True)
    assert "Rolled back: version 3 is live." in editor
    assert "routing rules rolled back" in editor and "rule set version 1" in editor
    assert client.post("/console/rules/rollback/99", data={"csrf_token": token}).status_code == 404


def test_bad_values_are_refused_on_their_fields(
    app: Any, db: Any, clock: Any, make_queue: Any, make_intent: Any, make_agent: Any
) -> None:
    _setup(make_queue, make_intent, make_agent)
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    form = {
        "rule-count": "1",
        "rule-0-name": "Avond",
        "rule-0-enabled": "1",
        "rule-0-c-day_time-from": "18:00",
        "rule-0-c-day_time-to": "9 uur",
        "rule-0-a-raise_priority": "veel",
        "csrf_token": token,
        "action": "publish",
    }
    page = client.post("/console/rules", data=form).get_data(as_text=True)
    assert "24-hour clock" in (_field_error(page, "c-day_time-to") or "")
    assert "whole number" in (_field_error(page, "a-raise_priority") or "")
    with db.session() as session:
        assert session.scalar(select(RuleSetVersion)) is None


def test_the_dry_run_names_an_unknown_intent_on_its_field(
    app: Any, db: Any, clock: Any, make_queue: Any, make_intent: Any, make_agent: Any
) -> None:
    _setup(make_queue, make_intent, make_agent)
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    form = {**RETENTION_RULE, "rule-0-a-route_to_queue": "retentie", "csrf_token": token, "action": "check"}
    page = client.post("/console/rules", data={**form, "dry-intent": "bestaatniet"}).get_data(as_text=True)
    assert 'id="err-dry-intent"' in page and "bestaatniet" in page


def test_every_kind_of_rule_survives_the_form() -> None:
    rules: list[dict[str, Any]] = [
        {
            "name": "Alles",
            "conditions": {
                "intent_in": ["factuur", "opzeggen"],
                "language": "nl",
                "vip": True,
                "repeat_count_at_least": 2,
                "has_open_promise": False,
                "matches_incident": True,
                "number_prefix": ["+3130"],
                "region": ["NL"],
                "day_time": {"weekdays": [0, 1, 2, 3, 4], "from": "09:00", "to": "17:30"},
                "wait_estimate_above_seconds": {"queue": "facturen", "seconds": 300},
                "queue_open": True,
                "queue_closed": "technisch",
            },
            "actions": {
                "route_to_queue": "retentie",
                "route_to_agent": 3,
                "set_priority": 5,
                "raise_priority": 2,
                "offer_callback_first": True,
                "announce": {"nl": "Welkom", "en": "Welcome"},
                "stop": True,
            },
        },
        {"name": "Uit", "enabled": False, "conditions": {"always": True}, "actions": {"set_priority": 1}},
    ]
    again, _ = rules_from_rows(rows_from_rules(rules))
    assert again == rules


def test_an_empty_new_rule_row_is_ignored(
    app: Any, db: Any, clock: Any, make_queue: Any, make_intent: Any, make_agent: Any
) -> None:
    _setup(make_queue, make_intent, make_agent)
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    form = {
        **RETENTION_RULE,
        "rule-0-a-route_to_queue": "retentie",
        "rule-count": "2",
        "rule-1-position": "2",
        "rule-1-enabled": "1",
        "csrf_token": token,
        "action": "check",
    }
    assert client.post("/console/rules", data=form).status_code == 200


def test_the_dutch_editor_names_weekdays_and_agents_in_words(
    app: Any, db: Any, clock: Any, make_queue: Any, make_agent: Any
) -> None:
    from routing.models import Agent
    from routing.rule_sets import publish_rule_set
    from tests.integration.console_support import log_in, make_user

    make_queue("algemeen")
    sanne = make_agent("Sanne Jansen", skills=("algemeen",))
    gone = make_agent("Oud Collega", phone="+31611110009", skills=("algemeen",))
    rules = [
        {
            "name": "Avond",
            "conditions": {"day_time": {"weekdays": [0, 4], "from": "18:00", "to": "21:00"}},
            "actions": {"route_to_agent": sanne.id},
        },
        {"name": "Oud", "conditions": {"always": True}, "actions": {"route_to_agent": gone.id}},
    ]
    with db.session() as session:
        publish_rule_set(session, rules, actor="karin", now=clock.now())
        retired = session.get(Agent, gone.id)
        assert retired is not None
        retired.active = False
    make_user(db, clock.now(), "karin", "supervisor", language="nl")
    client = app.test_client()
    log_in(client, "karin")
    page = client.get("/console/rules").get_data(as_text=True)
    checked = re.findall(r'name="rule-0-c-day_time-weekdays" value="\d" checked> (\w+)<', page)
    assert checked == ["maandag", "vrijdag"]
    assert "zaterdag" in page and "Saturday" not in page
    assert re.search(r'for="rule-0-a-route_to_agent">Naar medewerker\s*<select', page)
    assert "(id)" not in page
    assert f'<option value="{sanne.id}" selected>Sanne Jansen</option>' in page
    # A rule naming an agent who left keeps that agent, said in words, instead of silently "none".
    assert f'<option value="{gone.id}" selected>medewerker {gone.id} (niet actief)</option>' in page


def test_the_rule_checks_refusal_reads_in_dutch(
    app: Any, db: Any, clock: Any, make_queue: Any, make_intent: Any, make_agent: Any
) -> None:
    _setup(make_queue, make_intent, make_agent)
    client, token = logged_in_client(app, db, clock.now(), "supervisor", language="nl")
    refused = client.post("/console/rules", data={**RETENTION_RULE, "csrf_token": token, "action": "check"})
    assert refused.status_code == 422
    said = _field_error(refused.get_data(as_text=True), "a-route_to_queue") or ""
    assert said.startswith("onbekende wachtrij &#39;retentei&#39; (bekend: "), said


def test_a_rule_that_does_not_read_is_refused_in_dutch(
    app: Any, db: Any, clock: Any, make_queue: Any, make_intent: Any, make_agent: Any
) -> None:
    _setup(make_queue, make_intent, make_agent)
    client, token = logged_in_client(app, db, clock.now(), "supervisor", language="nl")
    form = {**RETENTION_RULE, "rule-0-a-route_to_queue": "retentie", "rule-0-a-raise_priority": "veel"}
    refused = client.post("/console/rules", data={**form, "csrf_token": token, "action": "check"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert _field_error(page, "a-raise_priority") == "een heel getal van 1 tot en met 100"
    dry = client.post(
        "/console/rules",
        data={**form, "rule-0-a-raise_priority": "1", "csrf_token": token, "action": "dry-run",
              "dry-time": "morgen", "dry-intent": "opzegen"},
    )  # fmt: skip
    assert "een datum en tijd zoals 2026-11-23T14:30" in dry.get_data(as_text=True)
