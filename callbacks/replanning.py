"""Re-planning: the one service every change that alters callback capacity calls.

A queue's settings (callback share, slot length, handle time), its opening hours and closed days,
shifts, slot overrides and an agent leaving all change what the coming slots can hold. Each such
change, in the unit of work that makes it, calls `replan_queue` or `replan_for_agent`:

1. the windows the queue's rules produce now get a slot each (new ones with derived capacity);
2. a slot that is not one of those windows any more (hours cut, a closed day, another slot length)
   is dead: capacity 0, never offered again, and every promise booked in it moves;
3. every other slot follows staffing (callback share, handle time, shifts) and its override;
4. the promises that no longer fit move, the latest booked first, to the nearest slot with room
   (a later one preferred), and each caller is texted the new window at once (callbacks/rebalance.py).
   The `cause` is what the moved promise, its timeline and the board say happened.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.capacity import effective_capacity
from callbacks.models import CallbackPromise, CallbackSlot, PromiseState
from callbacks.offers import (
    WIDE_HORIZON,
    current_windows,
    ensure_slots,
    handle_seconds,
    holders_of,
    queue_of,
    shifts_serving,
    staffed_capacity,
)
from callbacks.places import lock_slot_for_change, set_capacity
from callbacks.rebalance import MovedPromise, move_by_us, renumber_below
from routing.agent_admin import queue_ids_for_skills
from routing.models import Agent

# As far ahead as any offer reaches: no promise can be booked beyond it.
REPLAN_HORIZON = WIDE_HORIZON


class ReplanCause(enum.StrEnum):
    """Why a queue was re-planned: the words the board and a promise's timeline show (console/texts.py)."""

    QUEUE_SETTINGS = "queue settings changed"
    CALLBACK_SHARE = "callback share changed"
    SLOT_LENGTH = "slot length changed"
    OPENING_HOURS = "opening hours changed"
    CLOSED_DAY_ADDED = "closed day added"
    CLOSED_DAY_REMOVED = "closed day removed"
    SHIFT_ADDED = "shift added"
    SHIFT_REMOVED = "shift removed"
    SLOT_CAPACITY = "slot capacity changed"
    AGENT_DEACTIVATED = "agent deactivated"
    AGENT_QUEUES = "agent's queues changed"


def replan_queue(
    session: Session,
    queue_id: int,
    *,
    now: datetime,
    cause: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[MovedPromise]:
    """Re-plan the queue's slots starting in [start, end) (default: from now to the horizon).

    Returns the promises moved (or missed, `new_id` None), in the order they were moved.
    """
    first = max(start or now, now)
    last = min(end or now + REPLAN_HORIZON, now + REPLAN_HORIZON)
    if last <= first:
        return []
    queue = queue_of(session, queue_id)
    ensure_slots(session, queue_id, first, last, now)  # the new windows get their slots
    ends_of = dict(current_windows(session, queue_id, first, last))  # window start -> end
    slots = list(
        session.scalars(
            select(CallbackSlot)
            .where(CallbackSlot.queue_id == queue_id, CallbackSlot.starts_at >= first, CallbackSlot.starts_at < last)
            .order_by(CallbackSlot.starts_at)
            .execution_options(populate_existing=True)
        )
    )
    if not slots:
        return []
    shifts = shifts_serving(session, queue, first, max([s.ends_at for s in slots] + list(ends_of.values())))
    handle = handle_seconds(session, queue)
    victims: list[CallbackPromise] = []
    for slot in slots:
        # Waits for the bookings in flight; the statements after it see their places.
        lock_slot_for_change(session, slot.id)
        window_end = ends_of.get(slot.starts_at)
        reshaped = window_end is not None and window_end != slot.ends_at
        if window_end is not None and reshaped:
            _reshape(slot, window_end)
        if window_end is None:
            capacity = 0  # dead: not a window of the queue's rules any more
        else:
            derived = staffed_capacity(queue, shifts, slot.starts_at, slot.ends_at, handle)
            capacity = effective_capacity(derived, slot.capacity_override)
        set_capacity(session, slot, capacity)
        if slot.starts_at <= now:
            continue
        holders = holders_of(session, slot.id)  # the latest booked first
        # A reshaped slot's promises hold a window that is no slot any more: they all move.
        overflow = len(holders) if reshaped else max(len(holders) - capacity, 0)
        victims.extend([p for p in holders if p.state == PromiseState.BOOKED.value][:overflow])
    # Every capacity is set before anyone moves, so a promise never moves into a slot that shrinks.
    victims.sort(key=lambda p: (p.booked_at, p.id), reverse=True)
    moved = [move_by_us(session, promise, now, cause) for promise in victims]
    for slot in slots:
        if slot.starts_at > now:
            renumber_below(session, slot, holders_of(session, slot.id), slot.capacity)
    return moved


def _reshape(slot: CallbackSlot, ends_at: datetime) -> None:
    """Make the slot the window of the new slot length that starts when it does.

    One slot per queue and start: the new window cannot have a row of its own, so the old row
    becomes it, open, without the override set for the old window.
    """
    slot.ends_at = ends_at
    slot.capacity_override = None
    slot.closed = False


def replan_for_agent(
    session: Session,
    agent_id: int,
    *,
    now: datetime,
    cause: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[MovedPromise]:
    """Re-plan every queue the agent serves (their shifts, skills or being active changed)."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        return []
    moved: list[MovedPromise] = []
    for queue_id in queue_ids_for_skills(session, agent.skills or []):
        moved.extend(replan_queue(session, queue_id, now=now, cause=cause, start=start, end=end))
    return moved
