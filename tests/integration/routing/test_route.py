"""Routing a contact against the real database: the snapshot, the routed caller, incidents, the recorded decision."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from callbacks.models import CallbackPromise
from routing.config import center_config
from routing.history import (
    find_caller,
)
from routing.models import Contact, Incident
from routing.route import active_incidents_for, route_contact, routed_caller
from terugbel.clock import ManualClock
from terugbel.db import Database
from tests.integration.routing.fixtures import add_contact


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


def test_active_incidents_match_everyone_prefix_or_product(
    db: Database, clock: ManualClock, center: dict[str, Any]
) -> None:
    now = clock.now()
    with db.session() as session:
        incidents: list[tuple[str, dict[str, Any]]] = [
            ("iedereen", {"match_all": True}),
            ("utrecht", {"match_prefixes": ["+3130"]}),
            ("tv", {"match_products": ["tv"]}),
            ("opgelost", {"match_all": True, "state": "resolved"}),
            ("straks", {"match_all": True, "started_at": now + timedelta(hours=1)}),
        ]
        for title, fields in incidents:
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
