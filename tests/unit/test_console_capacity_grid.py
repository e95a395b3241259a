"""The week grid laid out from slots, and read back from a posted form."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from console.capacity_grid import SlotFacts, changed_overrides, week_grid

ZONE = "Europe/Amsterdam"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam


def slot(slot_id: int, day: int, hour: int, *, override: int | None = None, closed: bool = False) -> SlotFacts:
    start = datetime(2026, 12, 2 + day, hour - 1, 0, tzinfo=UTC)
    return SlotFacts(slot_id, start, start + timedelta(minutes=15), 3, override, closed, 1)


def test_slots_are_laid_out_by_local_time_and_day() -> None:
    grid = week_grid([slot(1, 0, 10), slot(2, 1, 10), slot(3, 1, 11), slot(4, 9, 10)], date(2026, 12, 2), ZONE, NOW)
    assert grid.days[0] == date(2026, 12, 2) and len(grid.days) == 7
    assert [(row.starts, row.ends) for row in grid.rows] == [(time(10), time(10, 15)), (time(11), time(11, 15))]
    first, second = grid.rows
    assert [c.slot.slot_id if c else None for c in first.cells][:3] == [1, 2, None]
    assert [c.slot.slot_id if c else None for c in second.cells][:3] == [None, 3, None]
    assert grid.previous == date(2026, 11, 25) and grid.next == date(2026, 12, 9)


def test_only_changed_editable_cells_are_read_back() -> None:
    slots = [slot(1, 0, 10, override=2), slot(2, 0, 11, closed=True), slot(3, 1, 10), slot(5, 0, 9)]
    grid = week_grid(slots, date(2026, 12, 2), ZONE, NOW)
    form = {"cap-1": "2", "cap-2": "0", "cap-3": " 4 ", "cap-5": "7", "cap-99": "1"}
    # 1 and 2 are unchanged, 5 began at 09:00 (now) and is history, 99 is not in this grid.
    assert changed_overrides(form, grid) == {3: "4"}
    assert changed_overrides({"cap-2": ""}, grid) == {2: ""}
