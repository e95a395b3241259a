"""A queue's average handle time: the one definition, for wait estimates and callback capacity.

A contact that reached an agent is handled from the moment the caller was connected to the agent
(the queue entry's `left_at` when it connected), else from when it was routed, else from when it
started, until it ended. The average is taken over the queue's latest `HANDLE_SAMPLE` such contacts,
or the queue's configured default while there are too few (`routing.wait.average_handle_seconds`).

Routing asks for every queue on every decision. Handle times move slowly (a mean over the last 50
contacts) while measuring them costs a statement per queue, several milliseconds a decision, so
`handle_seconds_by_queue` keeps what it measured for a minute per process, and forgets it as soon
as the configuration changes (a new stamp token, also what an emptied and refilled database shows).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routing.config import QueueConfig
from routing.models import Contact, ContactOutcome, QueueEntry, QueueEntryState
from routing.wait import HANDLE_SAMPLE, average_handle_seconds
from terugbel.db import database_key

KEPT_FOR = timedelta(seconds=60)
_KEPT_MAX = 8  # (database, stamp token) pairs: one or two per database a process talks to

# (database, stamp token) -> when measured, and the handle time of each queue.
_kept: dict[tuple[str, str], tuple[datetime, dict[int, float]]] = {}
_kept_lock = threading.Lock()


def queue_handle_seconds(session: Session, queue_id: int, default_seconds: float) -> float:
    """Return the queue's average handle time in seconds, measured now (the default while too few)."""
    return average_handle_seconds(_recent_handle_durations(session, queue_id), default_seconds)


def handle_seconds_by_queue(
    session: Session, queues: Iterable[QueueConfig], token: str | None, now: datetime
) -> dict[int, float]:
    """Return every queue's average handle time, as measured by this process within the last minute.

    `token` is the configuration stamp the queues were loaded under. None measures them now: without
    a stamp nothing tells an emptied database from the one measured.
    """
    key = (database_key(session), token) if token is not None else None
    kept = _kept.get(key) if key is not None else None
    if kept is not None and timedelta(0) <= now - kept[0] < KEPT_FOR:
        return kept[1]
    measured = {queue.id: queue_handle_seconds(session, queue.id, queue.default_handle_seconds) for queue in queues}
    if key is not None:
        with _kept_lock:
            if len(_kept) >= _KEPT_MAX:
                _kept.clear()
            _kept[key] = (now, measured)
    return measured


def _recent_handle_durations(session: Session, queue_id: int) -> list[float]:
    """Seconds each of the queue's latest contacts that reached an agent was handled, newest first."""
    connected_at = (
        select(func.max(QueueEntry.left_at))
        .where(QueueEntry.contact_id == Contact.id, QueueEntry.state == QueueEntryState.CONNECTED.value)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Contact.routed_at, Contact.started_at, Contact.ended_at, connected_at)
        .where(
            Contact.queue_id == queue_id,
            Contact.outcome == ContactOutcome.AGENT.value,
            Contact.ended_at.is_not(None),
        )
        .order_by(Contact.ended_at.desc())
        .limit(HANDLE_SAMPLE)
    ).all()
    return [
        (ended - (connected or routed or started)).total_seconds()
        for routed, started, ended, connected in rows
        if ended is not None  # always: the query reads ended contacts only; this tells the type checker
    ]
