"""How a promise was kept, read back: planned, first dial, connected, lateness, and each attempt."""

from __future__ import annotations

from sqlalchemy.orm import Session

from callbacks.attempts import PromiseTimeline
from callbacks.models import CallbackPromise


def promise_timeline(
    session: Session, promise_id: int
) -> tuple[PromiseTimeline, list[tuple[int, str, str | None]]] | None:
    """How a promise was kept: planned, first dial, connected, lateness; and each attempt's state and result."""
    promise = session.get(CallbackPromise, promise_id)
    if promise is None:
        return None
    timeline = PromiseTimeline(
        planned_dial_at=promise.planned_dial_at,
        first_dial_at=promise.first_dial_at,
        connected_at=promise.connected_at,
        window_start=promise.window_start,
        window_end=promise.window_end,
        attempts=promise.attempts,
    )
    return timeline, [(a.number, a.state, a.result) for a in promise.attempt_records]
