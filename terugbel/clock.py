"""One notion of "now" for the whole product, passed in explicitly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: tests and the simulator's compressed time use it."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = ensure_utc(moment)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._now += step
            return self._now


def ensure_utc(moment: datetime) -> datetime:
    """Refuse naive datetimes (they are bugs waiting for DST) and normalise to UTC."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every time in Terugbel carries its zone")
    return moment.astimezone(UTC)
