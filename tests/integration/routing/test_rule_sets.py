"""Rule-set versions: publish, validate, roll back, audit; a rule naming something deleted is skipped."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from routing.route import route_contact
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
from tests.integration.routing.fixtures import RETENTIE_RULE


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
