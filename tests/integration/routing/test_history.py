"""A caller's timeline: finding them, repeats, kept callbacks, first-contact resolution."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from routing.config import center_config
from routing.history import (
    caller_history,
    find_caller,
    history_facts,
    repeat_count,
    repeat_history,
    resolved_at_first_contact,
)
from routing.route import route_contact
from terugbel.clock import ManualClock
from terugbel.db import Database
from tests.integration.routing.fixtures import add_contact, add_kept_callback


def test_find_caller_by_any_spelling_of_the_number(db: Database, center: dict[str, Any]) -> None:
    with db.session() as session:
        assert find_caller(session, "06 8765 4321").name == "Monique de Vries"
        assert find_caller(session, "+31687654321").id == center["monique"].id
        assert find_caller(session, "+31600000000") is None
        assert find_caller(session, "anoniem") is None


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
