"""Promises for the dispatch tests: rows as booking leaves them, without the slot machinery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from callbacks.models import CallbackPromise
from callbacks.promise import start_promise
from terugbel.db import Database


def add_promise(
    db: Database,
    *,
    queue_id: int,
    number: str,
    window_start: datetime,
    booked_at: datetime,
    planned_dial_at: datetime | None = None,
    minutes: int = 15,
    **fields: Any,
) -> CallbackPromise:
    """A booked promise for `number` in the window starting at `window_start`."""
    state = fields.pop("state", None)
    with db.session() as session:
        promise = CallbackPromise(
            queue_id=queue_id,
            number=number,
            language=fields.pop("language", "nl"),
            timezone=fields.pop("timezone", "Europe/Amsterdam"),
            window_start=window_start,
            window_end=window_start + timedelta(minutes=minutes),
            planned_dial_at=planned_dial_at or window_start,
            booked_at=booked_at,
            **fields,
        )
        start_promise(promise, booked_at, "booked in a test")
        if state is not None:
            promise.state = state  # a promise caught mid-way (dialling, connected…)
        session.add(promise)
    return promise
