"""Opening hours in the queue's zone, public and custom holidays, and the wait estimate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.hours import OpeningPeriod, QueueHours, closing_time, is_open, next_opening
from routing.wait import UNSTAFFED_WAIT_SECONDS, average_handle_seconds, estimate_wait_seconds

WEEKDAYS_9_TO_17 = QueueHours.of(
    "Europe/Amsterdam",
    [OpeningPeriod(day, time(9), time(17)) for day in range(5)] + [OpeningPeriod(5, time(10), time(14))],
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2026, 11, 23, 7, 59), False),  # Monday 08:59 Amsterdam (UTC+1)
        (utc(2026, 11, 23, 8, 0), True),  # Monday 09:00
        (utc(2026, 11, 23, 15, 59), True),  # Monday 16:59
        (utc(2026, 11, 23, 16, 0), False),  # Monday 17:00: closed
        (utc(2026, 11, 28, 9, 30), True),  # Saturday 10:30
        (utc(2026, 11, 29, 10, 0), False),  # Sunday
        (utc(2026, 12, 25, 10, 0), False),  # Christmas, a Friday
        (utc(2026, 7, 6, 7, 30), True),  # Monday 09:30 summer time (UTC+2)
        (utc(2026, 4, 27, 9, 0), False),  # King's Day
    ],
)
def test_is_open_in_the_queues_zone(moment: datetime, expected: bool) -> None:
    assert is_open(WEEKDAYS_9_TO_17, set(), moment) is expected


def test_custom_holidays_and_other_countries() -> None:
    assert not is_open(WEEKDAYS_9_TO_17, {date(2026, 11, 23)}, utc(2026, 11, 23, 10, 0))
    london = QueueHours.of("Europe/London", [OpeningPeriod(0, time(9), time(17))], holiday_country="GB")
    assert is_open(london, set(), utc(2026, 11, 23, 9, 0))  # 09:00 London
    assert not is_open(london, set(), utc(2026, 11, 23, 8, 30))
    assert not is_open(london, set(), utc(2026, 12, 28, 10, 0))  # Boxing Day substitute in England
    no_country = QueueHours.of("Europe/Amsterdam", WEEKDAYS_9_TO_17.periods, holiday_country=None)
    assert is_open(no_country, set(), utc(2026, 12, 25, 10, 0))


def test_next_opening_skips_nights_weekends_and_holidays() -> None:
    assert next_opening(WEEKDAYS_9_TO_17, set(), utc(2026, 11, 23, 10, 0)) == utc(2026, 11, 23, 10, 0)
    # Monday 21:30 -> Tuesday 09:00 Amsterdam.
    assert next_opening(WEEKDAYS_9_TO_17, set(), utc(2026, 11, 23, 20, 30)) == utc(2026, 11, 24, 8, 0)
    # Saturday 15:00 -> Monday 09:00.
    assert next_opening(WEEKDAYS_9_TO_17, set(), utc(2026, 11, 28, 14, 0)) == utc(2026, 11, 30, 8, 0)
    # Christmas Eve evening -> 25th and 26th are holidays, 27th Sunday -> Monday 28th 09:00.
    assert next_opening(WEEKDAYS_9_TO_17, set(), utc(2026, 12, 24, 18, 0)) == utc(2026, 12, 28, 8, 0)
    assert next_opening(QueueHours.of("Europe/Amsterdam", []), set(), utc(2026, 11, 23, 10, 0)) is None


def test_closing_time() -> None:
    assert closing_time(WEEKDAYS_9_TO_17, set(), utc(2026, 11, 23, 10, 0)) == utc(2026, 11, 23, 16, 0)
    assert closing_time(WEEKDAYS_9_TO_17, set(), utc(2026, 11, 23, 20, 0)) is None


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)))
def test_next_opening_is_open_and_not_before(moment: datetime) -> None:
    opening = next_opening(WEEKDAYS_9_TO_17, {date(2026, 6, 1)}, moment)
    assert opening is not None and opening >= moment
    assert is_open(WEEKDAYS_9_TO_17, {date(2026, 6, 1)}, opening)


def test_average_handle_time_uses_the_default_until_twenty_contacts() -> None:
    assert average_handle_seconds([100.0] * 19, 360) == 360.0
    assert average_handle_seconds([100.0] * 10 + [200.0] * 10, 360) == 150.0
    # Only the newest 50 count.
    assert average_handle_seconds([60.0] * 50 + [6000.0] * 30, 360) == 60.0


@pytest.mark.parametrize(
    ("waiting", "available", "serving", "aht", "expected"),
    [
        (0, 1, 3, 300, 0),  # someone is free
        (1, 2, 3, 300, 0),
        (0, 0, 3, 300, 100),  # first of 3 busy agents frees in 300/3 s
        (5, 1, 2, 360, 900),  # 5 ahead, 1 free: 5 must wait for 2 agents -> 5 * 360 / 2
        (17, 0, 6, 360, 1080),  # story 3: 18 minutes
        (3, 0, 0, 300, UNSTAFFED_WAIT_SECONDS),
        (1000, 0, 1, 300, UNSTAFFED_WAIT_SECONDS),
    ],
)
def test_wait_estimate_by_hand(waiting: int, available: int, serving: int, aht: float, expected: int) -> None:
    assert (
        estimate_wait_seconds(waiting=waiting, available_agents=available, serving_agents=serving, aht_seconds=aht)
        == expected
    )
