"""Per process: how far ahead each queue is known to have a slot row for every slot window.

An offer must see a row for every window it could offer, so without this it read the start of
every slot of up to three weeks (~1,100 rows) to find the missing ones. Which windows a queue has
depends only on its configuration (zone, slot length, opening hours, closed days), and slot rows
are never deleted (a queue's own deletion changes the configuration), so once a read under one
configuration stamp token (routing/config.py) found every window of a stretch present, that stays
true for as long as the token does. The service records a stretch only from a read that found
nothing missing in a transaction that wrote no slots, so it never counts rows that may roll back.
(A database restored from a backup under running processes can show a token they saw before with
fewer slots: restart them, as after any restore.)
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from datetime import datetime

# (database key, queue id) -> (token, start, end): the stretch [start, end) known to be complete.
_known: dict[tuple[Hashable, int], tuple[str, datetime, datetime]] = {}
_lock = threading.Lock()
_MAX_QUEUES = 1000  # a bound, not a tuning knob: far more queues than a contact center has


def known_until(database: Hashable, token: str | None, queue_id: int, start: datetime) -> datetime | None:
    """Return the end of the complete stretch that contains `start`, or None if none is known."""
    if token is None:
        return None
    known = _known.get((database, queue_id))
    if known is None or known[0] != token or not known[1] <= start < known[2]:
        return None
    return known[2]


def record_complete(database: Hashable, token: str | None, queue_id: int, start: datetime, end: datetime) -> None:
    """Remember that [start, end) of the queue has every slot row under `token`."""
    if token is None or end <= start:
        return
    key = (database, queue_id)
    with _lock:
        known = _known.get(key)
        if known is not None and known[0] == token and start <= known[2] and known[1] <= end:
            start, end = min(start, known[1]), max(end, known[2])  # touching or overlapping: one stretch
        elif known is None and len(_known) >= _MAX_QUEUES:
            _known.clear()
        _known[key] = (token, start, end)
