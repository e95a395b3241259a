"""Capacity and slots against hand-computed cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from callbacks.attempts import DEFAULT_POLICY, last_dial_start, last_planned_dial
from callbacks.capacity import (
    ShiftSpan,
    agent_minutes_in,
    derived_capacity,
    effective_capacity,
    room,
    slot_capacity,
)
from callbacks.slots import (
    SlotState,
    choose_offers,
    closed_days,
    place_dial_time,
    slot_windows,
)
from routing.hours import OpeningPeriod

AMS = ZoneInfo("Europe/Amsterdam")
ZONE = "Europe/Amsterdam"


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=AMS).astimezone(UTC)


WEEKDAYS = [OpeningPeriod(day, time(9), time(17)) for day in range(5)]


@pytest.mark.parametrize(
    ("minutes", "share", "handle", "expected"),
    [
        (45, 0.30, 360, 2),  # 3 agents × 15 min × 0.3 = 13.5 min ÷ 6 = 2.25
        (60, 0.30, 360, 3),  # 18 ÷ 6 = 3 exactly: no float rounding below 3
        (15, 0.30, 360, 0),  # one agent: 4.5 min is less than one call
        (150, 0.20, 300, 6),  # 10 agents × 15 × 0.2 = 30 ÷ 5
        (0, 0.30, 360, 0),
    ],
)
def test_slot_capacity_rounds_down(minutes: float, share: float, handle: int, expected: int) -> None:
    assert slot_capacity(minutes, share, handle) == expected


def test_slot_capacity_refuses_zero_handle_time() -> None:
    with pytest.raises(ValueError):
        slot_capacity(30, 0.3, 0)


def test_part_time_shifts_count_only_their_overlap() -> None:
    start, end = local(2026, 11, 24, 9), local(2026, 11, 24, 9, 15)
    shifts = [
        ShiftSpan(1, local(2026, 11, 24, 8), local(2026, 11, 24, 17)),  # full 15
        ShiftSpan(2, local(2026, 11, 24, 9, 5), local(2026, 11, 24, 13)),  # 10 (starts late)
        ShiftSpan(3, local(2026, 11, 24, 7), local(2026, 11, 24, 9, 10)),  # 10 (leaves early)
        ShiftSpan(4, local(2026, 11, 24, 13), local(2026, 11, 24, 17)),  # 0 (afternoon only)
    ]
    assert agent_minutes_in(start, end, shifts) == 35
    # 35 × 0.3 = 10.5 agent-minutes ÷ 4-minute calls = 2.6 → 2
    assert derived_capacity(start, end, shifts, share=0.3, handle_seconds=240) == 2


def test_overlapping_shifts_of_one_agent_count_once() -> None:
    start, end = local(2026, 11, 24, 9), local(2026, 11, 24, 9, 15)
    shifts = [
        ShiftSpan(1, local(2026, 11, 24, 8), local(2026, 11, 24, 12)),
        ShiftSpan(1, local(2026, 11, 24, 9), local(2026, 11, 24, 10)),
    ]
    assert agent_minutes_in(start, end, shifts) == 15


def test_an_agent_of_several_queues_gives_each_an_equal_part() -> None:
    start, end = local(2026, 11, 24, 9), local(2026, 11, 24, 9, 15)
    shifts = [
        ShiftSpan(1, local(2026, 11, 24, 8), local(2026, 11, 24, 17)),  # this queue only: 15
        ShiftSpan(2, local(2026, 11, 24, 8), local(2026, 11, 24, 17), Fraction(1, 2)),  # and one more: 7.5
        ShiftSpan(3, local(2026, 11, 24, 8), local(2026, 11, 24, 17), Fraction(1, 3)),  # and two more: 5
    ]
    assert agent_minutes_in(start, end, shifts) == 27.5
    # The three queues of agent 3 together get their 15 minutes once, not three times.
    assert agent_minutes_in(start, end, shifts[2:]) * 3 == 15


def test_override_wins_and_a_closed_slot_has_no_room() -> None:
    assert effective_capacity(3, None) == 3
    assert effective_capacity(3, 5) == 5
    assert effective_capacity(3, 0) == 0
    assert room(3, 1, closed=False) == 2
    assert room(3, 1, closed=True) == 0
    assert room(2, 3, closed=False) == 0  # over capacity after a shift was removed


def test_slot_windows_stay_inside_opening_hours() -> None:
    windows = slot_windows(WEEKDAYS, frozenset(), ZONE, 15, local(2026, 11, 23, 0), local(2026, 11, 24, 0))
    assert len(windows) == 32  # 8 hours × 4
    assert windows[0] == (local(2026, 11, 23, 9), local(2026, 11, 23, 9, 15))
    assert windows[-1] == (local(2026, 11, 23, 16, 45), local(2026, 11, 23, 17))


def test_no_slots_on_a_holiday_or_a_weekend() -> None:
    # Christmas 2026 is a Friday; Saturday and Sunday are closed by the hours.
    holidays = closed_days("NL", [], date(2026, 12, 20), date(2026, 12, 31))
    assert date(2026, 12, 25) in holidays
    windows = slot_windows(WEEKDAYS, holidays, ZONE, 30, local(2026, 12, 24, 18), local(2026, 12, 29, 0))
    assert windows[0][0] == local(2026, 12, 28, 9)  # the next opening is Monday morning


def test_custom_holiday_closes_the_day() -> None:
    closed = closed_days(None, [date(2026, 11, 24)], date(2026, 11, 23), date(2026, 11, 30))
    windows = slot_windows(WEEKDAYS, closed, ZONE, 60, local(2026, 11, 24, 0), local(2026, 11, 26, 0))
    assert {w[0].astimezone(AMS).date() for w in windows} == {date(2026, 11, 25)}


def test_slot_grid_keeps_wall_clock_across_dst() -> None:
    # 2027-03-28 is the spring change in Amsterdam; Monday 29 March still opens at 09:00 local.
    windows = slot_windows(WEEKDAYS, frozenset(), ZONE, 60, local(2027, 3, 26, 0), local(2027, 3, 30, 0))
    assert {w[0].astimezone(AMS).hour for w in windows} == set(range(9, 17))


def _slots(day: int, hours: range, capacity: int = 2, booked: int = 0) -> list[SlotState]:
    return [
        SlotState(
            slot_id=day * 100 + h * 4 + q,
            starts_at=local(2026, 11, day, h, 15 * q),
            ends_at=local(2026, 11, day, h, 15 * q) + timedelta(minutes=15),
            capacity=capacity,
            booked=booked,
            closed=False,
        )
        for h in hours
        for q in range(4)
    ]


def test_offer_is_earliest_slot_with_room_after_the_lead_time_plus_two() -> None:
    slots = _slots(23, range(9, 17))
    full = {s.slot_id for s in slots if s.starts_at == local(2026, 11, 23, 14, 30)}
    slots = [
        SlotState(s.slot_id, s.starts_at, s.ends_at, s.capacity, 2 if s.slot_id in full else 0, False) for s in slots
    ]
    offers = choose_offers(slots, now=local(2026, 11, 23, 14, 10), lead_minutes=10, zone=ZONE)
    assert [o.window_start for o in offers] == [
        local(2026, 11, 23, 14, 45),  # 14:30 is full; 14:15 is inside the lead time
        local(2026, 11, 23, 15),
        local(2026, 11, 23, 15, 15),
    ]


def test_closed_slot_is_not_offered() -> None:
    slots = _slots(23, range(9, 10))
    slots[0] = SlotState(slots[0].slot_id, slots[0].starts_at, slots[0].ends_at, 5, 0, closed=True)
    offers = choose_offers(slots, now=local(2026, 11, 23, 8), lead_minutes=10, zone=ZONE)
    assert offers[0].window_start == local(2026, 11, 23, 9, 15)


def test_after_hours_offers_first_slots_of_next_opening() -> None:
    slots = _slots(23, range(9, 17)) + _slots(24, range(9, 17))
    offers = choose_offers(slots, now=local(2026, 11, 23, 21, 30), lead_minutes=10, zone=ZONE)
    assert [o.window_start for o in offers] == [
        local(2026, 11, 24, 9),
        local(2026, 11, 24, 9, 15),
        local(2026, 11, 24, 9, 30),
    ]


def test_requested_time_gets_the_nearest_slot_with_room() -> None:
    slots = _slots(23, range(9, 17)) + _slots(24, range(9, 17))
    now = local(2026, 11, 23, 21, 30)
    offers = choose_offers(slots, now=now, lead_minutes=10, zone=ZONE, near=local(2026, 11, 24, 11))
    assert (offers[0].window_start, offers[0].window_end) == (
        local(2026, 11, 24, 11),
        local(2026, 11, 24, 11, 15),
    )
    # After hours on the requested day: the nearest slot that day, not the next morning.
    late = choose_offers(slots, now=now, lead_minutes=10, zone=ZONE, near=local(2026, 11, 24, 20))
    assert late[0].window_start == local(2026, 11, 24, 16, 45)
    # A day without a time: the first slot of that day.
    day = choose_offers(slots, now=now, lead_minutes=10, zone=ZONE, near=local(2026, 11, 24, 0))
    assert day[0].window_start == local(2026, 11, 24, 9)
    # A time in the past: as early as we can.
    past = choose_offers(slots, now=now, lead_minutes=10, zone=ZONE, near=local(2026, 11, 23, 10))
    assert past[0].window_start == local(2026, 11, 24, 9)


def test_no_room_anywhere_offers_nothing() -> None:
    slots = _slots(23, range(9, 10), capacity=1, booked=1)
    assert choose_offers(slots, now=local(2026, 11, 23, 8), lead_minutes=10, zone=ZONE) == []


def test_dial_times_are_spread_over_the_slot_up_to_its_last_planned_dial() -> None:
    start, end = local(2026, 11, 23, 14, 30), local(2026, 11, 23, 14, 45)
    last = last_dial_start(start, end)
    # An attempt takes 2:05 at most (rings, whisper, detection) and the caller needs a minute's notice.
    assert last == end - timedelta(minutes=3, seconds=5)
    # Dials are planned half a minute before that, so a job that runs a little late is still in time.
    assert last_planned_dial(start, end) == last - timedelta(seconds=30)
    step = (last_planned_dial(start, end) - start) / 3
    moments = [place_dial_time(start, end, 3, place) for place in range(3)]
    assert moments == [start, start + step, start + 2 * step]
    assert moments[-1] + DEFAULT_POLICY.attempt_length + DEFAULT_POLICY.notice_before_end < end
    # A place left above a capacity that dropped shares the last moment, inside the slot.
    assert place_dial_time(start, end, 3, 7) == start + 2 * step
    # No capacity (a place kept after the slot's staff left): the start.
    assert place_dial_time(start, end, 0, 0) == start
