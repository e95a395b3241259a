"""A queue's callback capacity as a week grid: slot times down, days across, one input per cell.

Plain functions over plain data (no Flask, no database): `week_grid` lays the slots out,
`changed_overrides` reads the posted grid back and keeps only the cells the supervisor changed, so
saving a week audits and recomputes only those slots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS_SHOWN = 7
FIELD_PREFIX = "cap-"


@dataclass(frozen=True)
class SlotFacts:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    capacity_override: int | None
    closed: bool
    booked: int


@dataclass(frozen=True)
class Cell:
    slot: SlotFacts
    shown: str  # the input's value as the page shows it: the override, "0" when closed, else empty
    editable: bool  # a slot that has begun is history

    @property
    def field(self) -> str:
        return f"{FIELD_PREFIX}{self.slot.slot_id}"

    @property
    def full(self) -> bool:
        return self.slot.booked >= self.slot.capacity


@dataclass(frozen=True)
class GridRow:
    starts: time
    ends: time
    cells: list[Cell | None]  # one per day; None where the queue has no slot at that time


@dataclass(frozen=True)
class WeekGrid:
    days: list[date]
    rows: list[GridRow]

    @property
    def previous(self) -> date:
        return self.days[0] - timedelta(days=DAYS_SHOWN)

    @property
    def next(self) -> date:
        return self.days[0] + timedelta(days=DAYS_SHOWN)


def week_bounds(first: date, zone: str) -> tuple[datetime, datetime]:
    """The moments of local midnight at the start of `first` and DAYS_SHOWN days later."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(0), tzinfo=tz)
    return start, datetime.combine(first + timedelta(days=DAYS_SHOWN), time(0), tzinfo=tz)


def shown_value(slot: SlotFacts) -> str:
    if slot.closed:
        return "0"
    return "" if slot.capacity_override is None else str(slot.capacity_override)


def week_grid(slots: Sequence[SlotFacts], first: date, zone: str, now: datetime) -> WeekGrid:
    """The slots of the DAYS_SHOWN days from `first`, by local start time and day."""
    tz = ZoneInfo(zone)
    days = [first + timedelta(days=n) for n in range(DAYS_SHOWN)]
    by_time: dict[tuple[time, time], list[Cell | None]] = {}
    for slot in slots:
        local_start, local_end = slot.starts_at.astimezone(tz), slot.ends_at.astimezone(tz)
        column = (local_start.date() - first).days
        if not 0 <= column < DAYS_SHOWN:
            continue
        cells = by_time.setdefault((local_start.time(), local_end.time()), [None] * DAYS_SHOWN)
        cells[column] = Cell(slot=slot, shown=shown_value(slot), editable=slot.starts_at > now)
    rows = [GridRow(starts=s, ends=e, cells=cells) for (s, e), cells in sorted(by_time.items())]
    return WeekGrid(days=days, rows=rows)


def changed_overrides(form: Mapping[str, str], grid: WeekGrid) -> dict[int, str]:
    """{slot id: posted value} for each editable cell whose posted value differs from what was shown."""
    changed = {}
    for row in grid.rows:
        for cell in row.cells:
            if cell is None or not cell.editable or cell.field not in form:
                continue
            posted = form[cell.field].strip()
            if posted != cell.shown:
                changed[cell.slot.slot_id] = posted
    return changed
