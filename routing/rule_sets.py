"""The rule sets supervisors publish: the live one, every version, checking, publishing, rolling back.

Versions only grow: publishing and rolling back each add one, with an audit entry, and the highest
is live. A rule set goes live only when it validates against the queues, active agents and active
intents that exist at that moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routing.config import center_config
from routing.models import Agent, Intent, Queue, RuleSetVersion
from routing.rule_validation import validate_rule_set
from routing.rules import InvalidRuleSet, RuleError, RuleSet
from terugbel.audit import record_audit


class UnknownRuleSetVersion(LookupError):
    """There is no rule-set version with that number."""


def live_rule_set(session: Session) -> RuleSetVersion | None:
    """The live version (the highest), or None before anything was published."""
    return session.scalar(select(RuleSetVersion).order_by(RuleSetVersion.version.desc()).limit(1))


def live_rules(session: Session) -> RuleSet:
    """The live rules, parsed; an empty set before the first publish."""
    return center_config(session).rules


def list_versions(session: Session) -> list[RuleSetVersion]:
    """Every version, newest first."""
    return list(session.scalars(select(RuleSetVersion).order_by(RuleSetVersion.version.desc())))


def check_rule_set(session: Session, rules: Any) -> list[RuleError]:
    """Validate rules against the queues, active agents and active intents that exist now."""
    known_queues = set(session.scalars(select(Queue.name)))
    known_agents = set(session.scalars(select(Agent.id).where(Agent.active.is_(True))))
    known_intents = set(session.scalars(select(Intent.name).where(Intent.active.is_(True))))
    return validate_rule_set(rules, known_queues, known_agents, known_intents)


def publish_rule_set(
    session: Session, rules: Any, actor: str, now: datetime, note: str | None = None
) -> RuleSetVersion:
    """Validate `rules` and make them the live version; raise InvalidRuleSet and change nothing if bad."""
    errors = check_rule_set(session, rules)
    if errors:
        raise InvalidRuleSet(errors)
    version = _add_version(session, rules, actor, now, note, rolled_back_from=None)
    record_audit(
        session,
        at=now,
        actor=actor,
        action="routing.rules.publish",
        subject=f"rule set version {version.version}",
        details={"version": version.version, "rules": len(rules), "note": note},
    )
    return version


def rollback_rule_set(session: Session, to_version: int, actor: str, now: datetime) -> RuleSetVersion:
    """Publish a new version holding the rules of `to_version`; history only grows."""
    old = session.scalar(select(RuleSetVersion).where(RuleSetVersion.version == to_version))
    if old is None:
        raise UnknownRuleSetVersion(f"there is no rule set version {to_version}")
    errors = check_rule_set(session, old.rules)
    if errors:
        # The old rules name something deleted since: they must not go live.
        raise InvalidRuleSet(errors)
    previous = live_rule_set(session)
    version = _add_version(
        session, old.rules, actor, now, f"rollback to version {to_version}", rolled_back_from=to_version
    )
    record_audit(
        session,
        at=now,
        actor=actor,
        action="routing.rules.rollback",
        subject=f"rule set version {version.version}",
        details={
            "version": version.version,
            "restored_version": to_version,
            "replaced_version": previous.version if previous else None,
        },
    )
    return version


def _add_version(
    session: Session, rules: Any, actor: str, now: datetime, note: str | None, rolled_back_from: int | None
) -> RuleSetVersion:
    latest = session.scalar(select(func.max(RuleSetVersion.version))) or 0
    version = RuleSetVersion(
        version=latest + 1,
        rules=rules,
        created_at=now,
        created_by=actor,
        note=note,
        rolled_back_from=rolled_back_from,
    )
    session.add(version)
    session.flush()
    return version
