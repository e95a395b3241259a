"""Incidents: an outage said to matching callers before any question, and the text that tells the
callers who asked for one that it is fixed.

The texts go through the SMS outbox, which sends them once the transaction has committed
(terugbel.unit_of_work): call these inside `unit_of_work(runtime)`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.models import Incident, IncidentState, IncidentSubscription
from telephony.outbox import queue_sms
from terugbel.audit import record_audit
from terugbel.i18n import t
from terugbel.validation import NotFound


class IncidentNotFound(NotFound):
    """No incident with that id."""


def create_incident(session: Session, *, actor: str, now: datetime, **fields: Any) -> Incident:
    """Start an incident that matching callers hear before any question."""
    incident = Incident(state=IncidentState.ACTIVE.value, started_at=now, created_by=actor, **fields)
    session.add(incident)
    session.flush()
    record_audit(
        session,
        at=now,
        actor=actor,
        action="incident.create",
        subject=f"incident {incident.id}",
        details={
            "title": incident.title,
            "match_all": incident.match_all,
            "match_prefixes": incident.match_prefixes,
            "match_products": incident.match_products,
        },
    )
    return incident


def list_incidents(session: Session, state: str | None = None) -> list[Incident]:
    """Return the incidents (in `state`, when given), newest first."""
    query = select(Incident).order_by(Incident.started_at.desc(), Incident.id.desc())
    if state:
        query = query.where(Incident.state == state)
    return list(session.scalars(query))


def resolve_incident(session: Session, incident_id: int, *, actor: str, now: datetime) -> Incident:
    """Resolve the incident and text every subscriber not yet told, once (sent after commit)."""
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise IncidentNotFound(f"incident {incident_id}")
    if incident.state != IncidentState.RESOLVED.value:
        incident.state = IncidentState.RESOLVED.value
        incident.resolved_at = now
        record_audit(session, at=now, actor=actor, action="incident.resolve", subject=f"incident {incident.id}")
    waiting = session.scalars(
        select(IncidentSubscription).where(
            IncidentSubscription.incident_id == incident.id, IncidentSubscription.notified_at.is_(None)
        )
    )
    for subscription in waiting:
        queue_sms(
            session,
            to=subscription.number,
            body=t(subscription.language, "incident_resolved_sms"),
            purpose="incident_fixed",
            now=now,
        )
        subscription.notified_at = now
    return incident
