"""Slot windows inside opening hours, the offer of slots with room, and dial times inside a slot.

Pure functions over plain data with an injected `now`; the service feeds them rows.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from callbacks.attempts import last_planned_dial
from callbacks.capacity import room
from routing.hours import OpeningPeriod, QueueHours, is_holiday


@dataclass(frozen=True)
class SlotState:
    """What an offer needs to know of one slot."""

    slot_id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    closed: bool

    @property
    def room(self) -> int:
        return room(self.capacity, self.booked, self.closed)


@dataclass(frozen=True)
class SlotOffer:
    """A window we can promise: the slot it takes a place in, and its start and end (aware UTC)."""

    slot_id: int
    window_start: datetime
    window_end: datetime


def closed_days(country: str | None, custom_days: Iterable[date], first: date, last: date) -> frozenset[date]:
    """Return the public holidays of `country` and the custom closed days between first and last."""
    # One notion of a holiday for routing and callbacks: routing/hours.py decides.
    hours = QueueHours(zone="UTC", periods=(), holiday_country=country)
    custom = frozenset(custom_days)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return frozenset(day for day in days if is_holiday(hours, custom, day))


def slot_windows(
    hours: Sequence[OpeningPeriod],
    closed: frozenset[date],
    zone: str,
    slot_minutes: int,
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, datetime]]:
    """Return the slot windows (aware UTC) inside opening hours that start in [start, end)."""
    tz = ZoneInfo(zone)
    windows: list[tuple[datetime, datetime]] = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    last_day = end.astimezone(tz).date()
    while day <= last_day:
        if day not in closed:
            periods = tuple(sorted((p for p in hours if p.weekday == day.weekday()), key=lambda p: p.opens))
            day_windows = _day_windows(day, periods, zone, slot_minutes)  # sorted
            if day_windows and start <= day_windows[0][0] and day_windows[-1][0] < end:
                windows.extend(day_windows)
            else:
                lo = bisect_left(day_windows, start, key=_window_start)
                hi = bisect_left(day_windows, end, lo, key=_window_start)
                windows.extend(day_windows[lo:hi])
        day += timedelta(days=1)
    windows.sort()
    return windows


def _window_start(window: tuple[datetime, datetime]) -> datetime:
    return window[0]


@lru_cache(maxsize=4096)
def _day_windows(
    day: date, periods: tuple[OpeningPeriod, ...], zone: str, slot_minutes: int
) -> tuple[tuple[datetime, datetime], ...]:
    # Every offer walks up to three weeks of days; a day's grid depends only on these arguments.
    tz = ZoneInfo(zone)
    step = timedelta(minutes=slot_minutes)
    windows: list[tuple[datetime, datetime]] = []
    for period in periods:
        # Step in wall-clock time so a DST change does not shift the grid.
        local = datetime.combine(day, period.opens, tzinfo=tz)
        closes = datetime.combine(day, period.closes, tzinfo=tz)
        while local + step <= closes:
            windows.append((local.astimezone(UTC), (local + step).astimezone(UTC)))
            local += step
    return tuple(sorted(windows))


def earliest_start(now: datetime, lead_minutes: int) -> datetime:
    """Return the earliest start a slot may have to be offered now."""
    return now + timedelta(minutes=lead_minutes)


def choose_offers(
    slots: Sequence[SlotState],
    *,
    now: datetime,
    lead_minutes: int,
    zone: str,
    near: datetime | None = None,
    count: int = 3,
    exclude: Iterable[int] = (),
) -> list[SlotOffer]:
    """Return up to `count` offers: the best slot with room, then the next ones after it.

    Without `near` the best slot is the earliest with room after the lead time. With `near` (a time
    the caller asked for) it is the slot nearest to it, preferring the requested day; a time in the
    past or before the lead time counts as "as early as we can".
    """
    earliest = earliest_start(now, lead_minutes)
    skip = set(exclude)
    open_slots = sorted(
        (s for s in slots if s.room > 0 and s.starts_at >= earliest and s.slot_id not in skip),
        key=lambda s: s.starts_at,
    )
    if not open_slots:
        return []
    first_index = 0
    if near is not None and near > earliest:
        first_index = _nearest_index(open_slots, near, ZoneInfo(zone))
    chosen = open_slots[first_index : first_index + count]
    return [SlotOffer(s.slot_id, s.starts_at, s.ends_at) for s in chosen]


def _nearest_index(slots: Sequence[SlotState], near: datetime, tz: ZoneInfo) -> int:
    wished_day = near.astimezone(tz).date()
    same_day = [i for i, s in enumerate(slots) if s.starts_at.astimezone(tz).date() == wished_day]
    candidates = same_day or list(range(len(slots)))

    def distance(i: int) -> tuple[float, int]:
        slot = slots[i]
        if slot.starts_at <= near < slot.ends_at:
            return (0.0, 0)
        gap = abs((slot.starts_at - near).total_seconds())
        # On a tie prefer the later slot: the caller asked for a time, not for earlier.
        return (gap, 0 if slot.starts_at >= near else 1)

    return min(candidates, key=distance)


def place_dial_time(slot_start: datetime, slot_end: datetime, capacity: int, place: int) -> datetime:
    """Return the dial time of a place: the k-th of n is at start + k × span/n.

    The span runs from the slot's start to the last moment a dial is planned for (callbacks/attempts.py
    `last_planned_dial`), so the callbacks of a slot are spread over it, agents and the outbound call
    rate are not all hit at its start, and every caller's phone rings inside the window. (A place
    at or above a capacity that dropped shares the last moment.)
    """
    places = max(capacity, 1)
    span = last_planned_dial(slot_start, slot_end) - slot_start
    return slot_start + min(place, places - 1) * (span / places)
