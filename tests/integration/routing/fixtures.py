"""Helpers for the routing integration tests: contacts, promises and waiting callers in the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from callbacks.models import CallbackPromise
from routing.models import Contact, QueueEntry
from terugbel.db import Database

# Story 8's rule: callers who want to cancel go to the retention team.
RETENTIE_RULE = {
    "name": "Opzeggers naar retentie",
    "conditions": {"intent_in": ["opzeggen"]},
    "actions": {"route_to_queue": "retentie"},
}

_sids = iter(range(1, 10**9))


def add_contact(
    db: Database,
    caller: Any,
    *,
    started_at: datetime,
    intent: Any = None,
    agent: Any = None,
    queue: Any = None,
    outcome: str = "agent",
    resolved: bool | None = None,
    channel: str = "call",
    minutes: float = 5,
) -> Contact:
    """A finished contact of `caller` (None: an unknown caller) that lasted `minutes`."""
    with db.session() as session:
        contact = Contact(
            caller_id=caller.id if caller is not None else None,
            channel=channel,
            call_sid=f"CA{next(_sids):032d}",
            intent_id=intent.id if intent is not None else None,
            agent_id=agent.id if agent is not None else None,
            queue_id=queue.id if queue is not None else None,
            outcome=outcome,
            resolved=resolved,
            started_at=started_at,
            routed_at=started_at,
            ended_at=started_at + timedelta(minutes=minutes),
        )
        session.add(contact)
    return contact


def add_kept_callback(
    db: Database, caller: Any, *, connected_at: datetime, queue: Any, intent: Any = None, agent: Any = None
) -> CallbackPromise:
    """A callback promise that was kept: the caller was connected to `agent` at `connected_at`."""
    with db.session() as session:
        promise = CallbackPromise(
            caller_id=caller.id,
            queue_id=queue.id,
            intent_id=intent.id if intent is not None else None,
            number=caller.number,
            language="nl",
            timezone="Europe/Amsterdam",
            window_start=connected_at - timedelta(minutes=5),
            window_end=connected_at + timedelta(minutes=10),
            planned_dial_at=connected_at - timedelta(minutes=1),
            state="completed",
            agent_id=agent.id if agent is not None else None,
            booked_at=connected_at - timedelta(hours=2),
            connected_at=connected_at,
            ended_at=connected_at + timedelta(minutes=6),
        )
        session.add(promise)
    return promise


def add_waiting(
    db: Database,
    queue: Any,
    *,
    enqueued_at: datetime,
    priority: int = 0,
    preferred_agent: Any = None,
    preferred_until: datetime | None = None,
    state: str = "waiting",
) -> QueueEntry:
    """A caller waiting in `queue` since `enqueued_at`."""
    with db.session() as session:
        entry = QueueEntry(
            call_sid=f"CA{next(_sids):032d}",
            queue_id=queue.id,
            priority=priority,
            preferred_agent_id=preferred_agent.id if preferred_agent is not None else None,
            preferred_until=preferred_until,
            state=state,
            enqueued_at=enqueued_at,
        )
        session.add(entry)
    return entry
