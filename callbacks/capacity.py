"""Callback capacity of a slot, derived from the shifts of the agents who serve the queue.

capacity = floor(agent-minutes in the slot × callback share ÷ handle minutes). An agent who serves
several queues gives each an equal part of their minutes: counted whole in every queue, the
queues together would promise callbacks for more agents than there are. Pure functions over
plain data; the service feeds them shifts from the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from functools import cache


@dataclass(frozen=True)
class ShiftSpan:
    """The time one agent with the queue's skill is working."""

    agent_id: int
    starts_at: datetime
    ends_at: datetime
    part: Fraction = Fraction(1)  # of the agent's time for this queue: 1 ÷ the queues they serve


def slot_capacity(agent_minutes_in_slot: float, share: float, handle_seconds: int) -> int:
    """Return how many callbacks fit: agent-minutes × share ÷ handle minutes, rounded down."""
    if handle_seconds <= 0:
        raise ValueError("handle time must be positive")
    if agent_minutes_in_slot <= 0:
        return 0
    # Exact arithmetic: 0.3 × 60 must be 18, not 17.999…, before rounding down.
    seconds = Fraction(round(agent_minutes_in_slot * 60_000), 1000)
    exact_share = _exact(share)
    return math.floor(seconds * exact_share / handle_seconds)


@cache
def _exact(share: float) -> Fraction:
    return Fraction(share).limit_denominator(10_000)


def overlap_minutes(start: datetime, end: datetime, other_start: datetime, other_end: datetime) -> float:
    """Return the minutes two intervals share (0 when they do not overlap)."""
    seconds = (min(end, other_end) - max(start, other_start)).total_seconds()
    return max(seconds, 0.0) / 60


def agent_minutes_in(slot_start: datetime, slot_end: datetime, shifts: Iterable[ShiftSpan]) -> float:
    """Return the agent-minutes the shifts put inside the slot (an agent counts once per minute, for
    their part of it)."""
    by_agent: dict[int, list[tuple[datetime, datetime]]] = {}
    part_of: dict[int, Fraction] = {}
    for shift in shifts:
        lo, hi = max(shift.starts_at, slot_start), min(shift.ends_at, slot_end)
        if hi > lo:
            by_agent.setdefault(shift.agent_id, []).append((lo, hi))
            part_of[shift.agent_id] = shift.part
    total = 0.0
    for agent_id, spans in by_agent.items():
        # Merge overlapping shifts of one agent: a double-entered shift is not two people.
        spans.sort()
        minutes = 0.0
        current_lo, current_hi = spans[0]
        for lo, hi in spans[1:]:
            if lo <= current_hi:
                current_hi = max(current_hi, hi)
            else:
                minutes += (current_hi - current_lo).total_seconds() / 60
                current_lo, current_hi = lo, hi
        minutes += (current_hi - current_lo).total_seconds() / 60
        total += minutes * float(part_of[agent_id])
    return total


def derived_capacity(
    slot_start: datetime,
    slot_end: datetime,
    shifts: Iterable[ShiftSpan],
    *,
    share: float,
    handle_seconds: int,
) -> int:
    """Return the capacity the staffing gives the slot."""
    return slot_capacity(agent_minutes_in(slot_start, slot_end, shifts), share, handle_seconds)


def effective_capacity(derived: int, override: int | None) -> int:
    """Return the capacity stored on the slot: a supervisor's override wins over staffing."""
    return derived if override is None else max(override, 0)


def room(capacity: int, booked: int, closed: bool) -> int:
    """Return how many more promises the slot takes (a closed slot takes none)."""
    return 0 if closed else max(capacity - booked, 0)
