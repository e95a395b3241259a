"""Read-only: how long callers waited in a queue, behind the metrics page's waits-by-hour chart.

A separate module from console/queries.py only to keep each module small; same rules: a session in,
plain data out, no writes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.metrics import WaitFact
from routing.models import QueueEntry


def queue_waits(session: Session, start: datetime, end: datetime) -> list[WaitFact]:
    """Every queue entry that began in [start, end) and has ended (served or hung up)."""
    rows = session.execute(
        select(QueueEntry.enqueued_at, QueueEntry.left_at).where(
            QueueEntry.enqueued_at >= start, QueueEntry.enqueued_at < end, QueueEntry.left_at.is_not(None)
        )
    ).all()
    return [WaitFact(enqueued_at=enqueued, left_at=left) for enqueued, left in rows if left is not None]
