"""slot_windows against the plain walk it replaced: cached day grids must not change any window."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from callbacks.slots import slot_windows
from routing.hours import OpeningPeriod

ZONE = "Europe/Amsterdam"


def walked_windows(
    hours: list[OpeningPeriod], closed: frozenset[date], zone: str, slot_minutes: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Every window of every open day, stepped in wall-clock time, kept when it starts in [start, end)."""
    tz = ZoneInfo(zone)
    step = timedelta(minutes=slot_minutes)
    windows = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    while day <= end.astimezone(tz).date():
        if day not in closed:
            for period in sorted((p for p in hours if p.weekday == day.weekday()), key=lambda p: p.opens):
                local = datetime.combine(day, period.opens, tzinfo=tz)
                while local + step <= datetime.combine(day, period.closes, tzinfo=tz):
                    if start <= local.astimezone(UTC) < end:
                        windows.append((local.astimezone(UTC), (local + step).astimezone(UTC)))
                    local += step
        day += timedelta(days=1)
    return sorted(windows)


HOURS = {
    "one period a day": [OpeningPeriod(d, time(8), time(21)) for d in range(7)],
    # Split days, and periods overlapping each other: the last period does not end the day.
    "split and overlapping": [OpeningPeriod(d, time(8), time(20)) for d in range(5)]
    + [OpeningPeriod(d, time(9), time(10, 30)) for d in range(5)]
    + [OpeningPeriod(5, time(10), time(12)), OpeningPeriod(5, time(13), time(16, 45))],
    "round the clock": [OpeningPeriod(d, time(0), time(23, 59)) for d in range(7)],
}


@pytest.mark.parametrize("name", sorted(HOURS))
@pytest.mark.parametrize("zone", [ZONE, "America/New_York"])
def test_windows_match_the_walk_over_dst_changes_and_cut_days(name: str, zone: str) -> None:
    rng = random.Random(f"{name}-{zone}")
    closed = frozenset({date(2026, 10, 27), date(2027, 3, 29), date(2026, 12, 25)})
    # Around the autumn and spring changes on both continents, and ordinary weeks.
    anchors = [datetime(2026, 10, 20, tzinfo=UTC), datetime(2027, 3, 8, tzinfo=UTC), datetime(2027, 3, 24, tzinfo=UTC)]
    for anchor in anchors:
        for _ in range(20):
            start = anchor + timedelta(minutes=rng.randrange(0, 14 * 24 * 60))
            end = start + timedelta(minutes=rng.choice([1, 15, 60 * 5, 60 * 24, 60 * 24 * 8, 60 * 24 * 21]))
            minutes = rng.choice([15, 20, 60])
            expected = walked_windows(HOURS[name], closed, zone, minutes, start, end)
            assert slot_windows(HOURS[name], closed, zone, minutes, start, end) == expected


def test_consecutive_ranges_give_the_windows_of_their_union() -> None:
    # Offers read one horizon after another; together they must be the same windows as one range.
    hours = HOURS["split and overlapping"]
    start = datetime(2026, 11, 23, 9, 7, tzinfo=UTC)
    cuts = [start + timedelta(days=1), start + timedelta(days=8), start + timedelta(days=21)]
    pieces = []
    for lo, hi in zip([start, *cuts[:-1]], cuts, strict=True):
        pieces += slot_windows(hours, frozenset(), ZONE, 15, lo, hi)
    assert pieces == slot_windows(hours, frozenset(), ZONE, 15, start, cuts[-1])
