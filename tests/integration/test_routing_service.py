"""Routing against the real database: history, repeat contacts, wait estimates, versions, dry runs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from callbacks.models import CallbackPromise
from routing.config import center_config
from routing.dry_run import dry_run
from routing.history import (
    caller_history,
    find_caller,
    history_facts,
    repeat_count,
    repeat_history,
    resolved_at_first_contact,
)
from routing.live_state import queue_statuses
from routing.models import Contact, Holiday, Incident
from routing.route import active_incidents_for, route_contact, routed_caller
from routing.rule_sets import (
    UnknownRuleSetVersion,
    list_versions,
    live_rule_set,
    publish_rule_set,
    rollback_rule_set,
)
from routing.rules import InvalidRuleSet
from terugbel.audit import AuditEntry
from terugbel.clock import ManualClock
from terugbel.db import Database
from tests.integration.routing_fixtures import add_contact, add_kept_callback, add_waiting

RETENTIE_RULE = {
    "name": "Opzeggers naar retentie",
    "conditions": {"intent_in": ["opzeggen"]},
    "actions": {"route_to_queue": "retentie"},
}


@pytest.fixture
def center(make_queue: Any, make_agent: Any, make_intent: Any, make_caller: Any) -> dict[str, Any]:
    """Story 2's contact center: billing with Sanne, technical with Ahmed, a retention team."""
    technisch = make_queue("technisch")
    facturen = make_queue("facturen")
    retentie = make_queue("retentie")
    return {
        "technisch": technisch,
        "facturen": facturen,
        "retentie": retentie,
        "sanne": make_agent("Sanne Jansen", "+31611110001", ("facturen",), state="on_call"),
        "ahmed": make_agent("Ahmed El Amrani", "+31611110002", ("technisch",)),
        "factuur": make_intent("factuur", facturen, nl=["factuur", "rekening", "klopt niet"]),
        "internet": make_intent("internet", technisch, nl=["internet", "modem"]),
        "opzeggen": make_intent("opzeggen", facturen, nl=["opzeggen", "abonnement stoppen"]),
        "monique": make_caller("+31687654321", "Monique de Vries", language="nl", products=["tv"]),
    }


def test_find_caller_by_any_spelling_of_the_number(db: Database, center: dict[str, Any]) -> None:
    with db.session() as session:
        assert find_caller(session, "06 8765 4321").name == "Monique de Vries"
        assert find_caller(session, "+31687654321").id == center["monique"].id
        assert find_caller(session, "+31600000000") is None
        assert find_caller(session, "anoniem") is None


def test_story_2_repeat_contact_goes_to_sanne_with_priority(
    db: Database, clock: ManualClock, center: dict[str, Any]
) -> None:
    now = clock.now()
    add_contact(
        db,
        center["monique"],
        started_at=now - timedelta(days=2),
        intent=center["factuur"],
        agent=center["sanne"],
        queue=center["facturen"],
        resolved=False,
    )
    current = add_contact(db, center["monique"], started_at=now, outcome="in_progress")
    with db.session() as session:
        decision = route_contact(
            session,
            caller_id=center["monique"].id,
            intent_name=None,
            words="mijn factuur klopt nog steeds niet",
            language="nl",
            now=now,
            contact_id=current.id,
        )
    assert decision.queue_name == "facturen"
    assert decision.preferred_agent_id == center["sanne"].id
    assert decision.preferred_wait_seconds == 60
    assert decision.repeat_count == 1
    assert decision.priority == 2  # repeat, and the last contact was not resolved
    assert "Sanne Jansen first" in decision.explanation
    with db.session() as session:
        stored = session.get(Contact, current.id)
        assert stored.queue_id == center["facturen"].id
        assert stored.priority == 2
        assert stored.routed_at == now
        assert stored.routing_explanation == decision.explanation
        assert stored.intent_id == center["factuur"].id


def test_repeat_window_and_callbacks_count(db: Database, clock: ManualClock, center: dict[str, Any]) -> None:
    now, monique = clock.now(), center["monique"]
    add_contact(db, monique, started_at=now - timedelta(days=8), intent=center["factuur"], queue=center["facturen"])
    with db.session() as session:
        assert repeat_count(session, monique.id, "factuur", now) == 0
        assert repeat_count(session, monique.id, "factuur", now, days=10) == 1
    # A kept callback about the invoice three days ago, by Ahmed, makes today's call a repeat.
    add_kept_callback(
        db,
        monique,
        connected_at=now - timedelta(days=3),
        queue=center["technisch"],
        intent=center["factuur"],
        agent=center["ahmed"],
    )
    add_contact(db, monique, started_at=now - timedelta(days=1), intent=center["internet"], resolved=True)
    with db.session() as session:
        assert repeat_count(session, monique.id, "factuur", now) == 1
        assert repeat_count(session, monique.id, "internet", now) == 1
        assert repeat_count(session, monique.id, "tv", now) == 0
        history = caller_history(session, monique.id, now)
        assert [(e.kind, e.intent) for e in history] == [("call", "internet"), ("callback", "factuur")]
        assert history[1].agent_name == "Ahmed El Amrani" and history[1].queue == "technisch"
        decision = route_contact(
            session, caller_id=monique.id, intent_name="factuur", words=None, language="nl", now=now
        )
    assert decision.queue_name == "technisch"  # the team that handled it last
    assert decision.preferred_agent_id == center["ahmed"].id


def test_a_callback_that_left_a_contact_is_shown_once(db: Database, clock: ManualClock, center: dict[str, Any]) -> None:
    now, monique = clock.now(), center["monique"]
    at = now - timedelta(days=1)
    add_kept_callback(db, monique, connected_at=at, queue=center["facturen"], intent=center["factuur"])
    add_contact(db, monique, started_at=at, channel="callback", intent=center["factuur"], queue=center["facturen"])
    with db.session() as session:
        assert [e.kind for e in caller_history(session, monique.id, now)] == ["callback"]
        assert repeat_count(session, monique.id, "factuur", now) == 1


def test_unresolved_contact_about_something_else_is_a_repeat(
    db: Database, clock: ManualClock, center: dict[str, Any]
) -> None:
    now, monique = clock.now(), center["monique"]
    add_contact(db, monique, started_at=now - timedelta(days=1), intent=center["internet"], resolved=False)
    with db.session() as session:
        assert repeat_count(session, monique.id, "factuur", now) == 1


def test_resolved_at_first_contact(db: Database, clock: ManualClock, center: dict[str, Any]) -> None:
    now, monique = clock.now(), center["monique"]
    first = add_contact(db, monique, started_at=now - timedelta(days=10), intent=center["factuur"])
    repeated = add_contact(db, monique, started_at=now - timedelta(days=2), intent=center["internet"])
    add_contact(db, monique, started_at=now - timedelta(days=1), intent=center["internet"])
    marked = add_contact(db, monique, started_at=now - timedelta(hours=3), intent=center["factuur"], resolved=True)
    running = add_contact(db, monique, started_at=now - timedelta(hours=2), intent=center["opzeggen"])
    with db.session() as session:
        assert resolved_at_first_contact(session, first.id, now) is True
        assert resolved_at_first_contact(session, repeated.id, now) is False
        assert resolved_at_first_contact(session, marked.id, now) is True
        assert resolved_at_first_contact(session, running.id, now) is None


def test_active_incidents_match_everyone_prefix_or_product(
    db: Database, clock: ManualClock, center: dict[str, Any]
) -> None:
    now = clock.now()
    with db.session() as session:
        for title, fields in [
            ("iedereen", {"match_all": True}),
            ("utrecht", {"match_prefixes": ["+3130"]}),
            ("tv", {"match_products": ["tv"]}),
            ("opgelost", {"match_all": True, "state": "resolved"}),
            ("straks", {"match_all": True, "started_at": now + timedelta(hours=1)}),
        ]:
            session.add(
                Incident(
                    title=title,
                    message_nl=title,
                    message_en=title,
                    created_by="karin",
                    started_at=fields.pop("started_at", now - timedelta(hours=1)),
                    **fields,
                )
            )
    with db.session() as session:
        monique = find_caller(session, "+31687654321")
        assert sorted(i.title for i in active_incidents_for(session, monique, now)) == ["iedereen", "tv"]
        assert sorted(i.title for i in active_incidents_for(session, "+31301234567", now)) == ["iedereen", "utrecht"]


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


def test_publish_validate_rollback_and_audit(db: Database, clock: ManualClock, center: dict[str, Any]) -> None:
    typo = [{**RETENTIE_RULE, "actions": {"route_to_queue": "retnetie"}}]
    with pytest.raises(InvalidRuleSet) as raised, db.session() as session:
        publish_rule_set(session, typo, "karin", clock.now())
    assert raised.value.errors[0].field == "actions.route_to_queue"
    with db.session() as session:
        assert live_rule_set(session) is None  # nothing went live
        first = publish_rule_set(session, [], "karin", clock.now(), note="leeg")
    clock.advance(minutes=5)
    with db.session() as session:
        second = publish_rule_set(session, [RETENTIE_RULE], "karin", clock.now(), note="retentie")
    assert (first.version, second.version) == (1, 2)
    with db.session() as session:
        decision = route_contact(
            session, caller_id=None, intent_name="opzeggen", words=None, language="nl", now=clock.now()
        )
    assert decision.queue_name == "retentie"
    clock.advance(days=1)
    with db.session() as session:
        restored = rollback_rule_set(session, 1, "karin", clock.now())
    assert (restored.version, restored.rules, restored.rolled_back_from) == (3, [], 1)
    with db.session() as session:
        decision = route_contact(
            session, caller_id=None, intent_name="opzeggen", words=None, language="nl", now=clock.now()
        )
        assert decision.queue_name == "facturen"
        assert [v.version for v in list_versions(session)] == [3, 2, 1]
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(a.action, a.actor, a.details["version"]) for a in audit] == [
        ("routing.rules.publish", "karin", 1),
        ("routing.rules.publish", "karin", 2),
        ("routing.rules.rollback", "karin", 3),
    ]
    assert audit[2].details["restored_version"] == 1 and audit[2].at == clock.now()
    with pytest.raises(UnknownRuleSetVersion), db.session() as session:
        rollback_rule_set(session, 9, "karin", clock.now())


def test_rule_for_a_deleted_agent_is_skipped_not_failed(
    db: Database, clock: ManualClock, center: dict[str, Any]
) -> None:
    rule = {
        "name": "Ahmed voor internet",
        "conditions": {"intent_in": ["internet"]},
        "actions": {"route_to_agent": center["ahmed"].id},
    }
    with db.session() as session:
        publish_rule_set(session, [rule], "karin", clock.now())
    from routing.models import Agent

    with db.session() as session:
        session.get(Agent, center["ahmed"].id).active = False  # Ahmed left the company
    with db.session() as session:
        decision = route_contact(
            session, caller_id=None, intent_name="internet", words=None, language="nl", now=clock.now()
        )
        assert decision.queue_name == "technisch"
        assert decision.skipped_rules == ("Ahmed voor internet",)
        with pytest.raises(InvalidRuleSet):
            rollback_rule_set(session, 1, "karin", clock.now())


def test_dry_run_against_live_and_draft(db: Database, clock: ManualClock, center: dict[str, Any]) -> None:
    with db.session() as session:
        live = dry_run(session, number="06 8765 4321", words="ik wil mijn abonnement opzeggen", at=clock.now())
        assert live.intent == "opzeggen" and live.caller_known and live.rule_set_version is None
        assert live.decision.queue_name == "facturen"
        draft = dry_run(
            session,
            number="+31687654321",
            words="ik wil mijn abonnement opzeggen",
            at=clock.now(),
            rules=[RETENTIE_RULE],
        )
        assert draft.decision.explanation.startswith("→ retentie (rule 'Opzeggers naar retentie')")
        with pytest.raises(InvalidRuleSet):
            dry_run(session, number=None, intent_name="opzeggen", at=clock.now(), rules=[{"name": "x"}])
        # At night every queue is closed: a callback is offered.
        night = dry_run(session, number=None, intent_name="internet", at=clock.now() + timedelta(hours=13))
        assert not night.decision.queue_open and night.decision.offer_callback_first
        assert not night.caller_known
    with db.session() as session:
        assert session.scalars(select(Contact)).all() == []


def test_routing_reads_only_the_history_that_bears_on_the_decision(
    db: Database, clock: ManualClock, center: dict[str, Any]
) -> None:
    now, monique = clock.now(), center["monique"]
    factuur, internet, opzeggen = center["factuur"], center["internet"], center["opzeggen"]
    facturen, technisch = center["facturen"], center["technisch"]
    day = timedelta(days=1)
    add_contact(db, monique, started_at=now - 9 * day, intent=factuur, resolved=False, queue=facturen)  # too old
    add_contact(db, monique, started_at=now - 6 * day, intent=factuur, resolved=True, queue=facturen)
    add_contact(db, monique, started_at=now - 5 * day, intent=internet, resolved=False, agent=center["ahmed"])
    add_contact(db, monique, started_at=now - 4 * day, intent=None, resolved=None, queue=technisch)
    # A kept callback about the invoice whose dial left a "callback" contact about something else.
    add_kept_callback(db, monique, connected_at=now - 3 * day, queue=facturen, intent=factuur)
    add_contact(db, monique, started_at=now - 3 * day, channel="callback", intent=opzeggen, resolved=True)
    add_kept_callback(db, monique, connected_at=now - 2 * day, queue=technisch, intent=internet, agent=center["ahmed"])
    latest = add_contact(db, monique, started_at=now - day, intent=opzeggen, resolved=True, agent=center["sanne"])
    with db.session() as session:
        config = center_config(session)
        for intent in (factuur, internet, opzeggen, None):
            name = intent.name if intent is not None else None
            for exclude in (None, latest.id):
                everything = caller_history(session, monique.id, now, exclude_contact_id=exclude)
                narrow = repeat_history(
                    session, monique.id, config.intent_named(name) if name else None, now, exclude_contact_id=exclude
                )
                assert history_facts(narrow, name) == history_facts(everything, name)
                assert {(e.contact_id, e.promise_id) for e in narrow} <= {
                    (e.contact_id, e.promise_id) for e in everything
                }
        assert history_facts(repeat_history(session, monique.id, config.intent_named("internet"), now), "internet") == (
            history_facts(caller_history(session, monique.id, now), "internet")
        )
        assert history_facts(caller_history(session, monique.id, now), "internet").repeat_count == 2


def test_routed_caller_is_one_statement_by_id_or_any_spelling_of_the_number(
    db: Database, clock: ManualClock, center: dict[str, Any]
) -> None:
    monique = center["monique"]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with db.session() as session:
        center_config(session)  # kept by this process from now on
    with db.session() as session:
        event.listen(session.connection(), "before_cursor_execute", count)
        caller, has_promise = routed_caller(session, monique.id, None)
        assert len(statements) == 1
        center_config(session)  # the statement read the configuration stamp too: nothing more to read
        assert len(statements) == 1
        assert caller is not None and caller.name == "Monique de Vries" and caller.products == ["tv"]
        assert has_promise is False
        assert routed_caller(session, None, "06 8765 4321")[0] == caller
        assert routed_caller(session, 999_999, "+31687654321")[0] == caller  # an id that is gone: the number
        assert routed_caller(session, None, "+31600000000") == (None, False)
        assert routed_caller(session, None, None) == (None, False)
        session.add(
            CallbackPromise(
                queue_id=center["facturen"].id,
                number="+31600000000",
                language="nl",
                timezone="Europe/Amsterdam",
                window_start=clock.now() + timedelta(hours=1),
                window_end=clock.now() + timedelta(hours=1, minutes=15),
                planned_dial_at=clock.now() + timedelta(hours=1),
                state="booked",
                booked_at=clock.now(),
            )
        )
        assert routed_caller(session, None, "06 0000 0000") == (None, True)  # unknown caller, open promise
