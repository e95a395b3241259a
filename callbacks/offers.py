"""Callback slots in the database and the windows offered to a caller.

A queue's slots are materialised on demand: a slot row for each slot window of its opening hours
(callbacks/slots.py), with a capacity derived from the shifts of the agents who serve it
(callbacks/capacity.py) and a row per place (callbacks/places.py). An offer materialises what is
missing of the days it looks at, then picks among the slots with room.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import literal_column, select, update
from sqlalchemy.orm import Session

from callbacks.capacity import ShiftSpan, derived_capacity
from callbacks.errors import CallbackError
from callbacks.models import CallbackPromise, CallbackSlot, PromiseState
from callbacks.places import add_places, add_slots, lock_slot_for_change
from callbacks.scheduling import schedule_after_commit
from callbacks.slots import (
    SlotOffer,
    SlotState,
    choose_offers,
    closed_days,
    earliest_start,
    place_dial_time,
    slot_windows,
)
from routing.config import QueueConfig, center_config
from routing.handle_time import queue_handle_seconds
from routing.models import Agent, Queue, Shift
from terugbel.db import rows_changed
from terugbel.unit_of_work import after_commit

# How far ahead offers look: a long weekend plus a holiday still finds the next opening.
FIRST_HORIZON = timedelta(days=1)
OFFER_HORIZON = timedelta(days=8)
WIDE_HORIZON = timedelta(days=21)
# How far past that the next opening is looked for, when no slot of the wide horizon has room.
NEXT_OPENING_HORIZON = timedelta(days=366)


def queue_of(session: Session, queue_id: int) -> Queue:
    """Return the queue, or raise CallbackError if there is none with this id."""
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise CallbackError(f"queue {queue_id} does not exist")
    return queue


def _slot_rules(session: Session, queue_id: int) -> QueueConfig:
    """The queue's zone, slot length, lead time, hours and closed days, from the configuration."""
    queue = center_config(session).queues_by_id.get(queue_id)
    if queue is None:
        raise CallbackError(f"queue {queue_id} does not exist")
    return queue


def shifts_serving(session: Session, queue: Queue, start: datetime, end: datetime) -> list[ShiftSpan]:
    """Return the shifts of active agents with the queue's skill that overlap [start, end), each with
    the part of the agent's time the queue gets (an equal part of every queue they serve)."""
    queue_skills = frozenset(other.skill for other in center_config(session).queues_by_id.values())
    rows = session.execute(
        select(Shift.agent_id, Shift.starts_at, Shift.ends_at, Agent.skills)
        .join(Agent, Agent.id == Shift.agent_id)
        .where(Agent.active.is_(True), Shift.starts_at < end, Shift.ends_at > start)
    )
    return [
        ShiftSpan(agent_id, starts_at, ends_at, Fraction(1, len(queue_skills & {*skills})))
        for agent_id, starts_at, ends_at, skills in rows
        if queue.skill in (skills or [])
    ]


def handle_seconds(session: Session, queue: Queue) -> int:
    """Return the queue's average handle time for capacity (routing's measure), at least a minute."""
    measured = queue_handle_seconds(session, queue.id, queue.default_handle_seconds)
    # A floor of a minute: a run of dropped calls must not promise dozens of callbacks a slot.
    return max(60, round(measured))


def staffed_capacity(queue: Queue, shifts: Sequence[ShiftSpan], start: datetime, end: datetime, handle: int) -> int:
    """Return the capacity the shifts give the window [start, end) of the queue."""
    return derived_capacity(start, end, shifts, share=queue.callback_share, handle_seconds=handle)


def ensure_slots(
    session: Session, queue_id: int, start: datetime, end: datetime, now: datetime, *, refresh: bool = False
) -> list[CallbackSlot]:
    """Materialise the queue's slots starting in [start, end) with capacity from staffing; return them.

    A coming slot that is no window of the queue's rules any more (hours cut, a closed day, another
    slot length: re-planning gave it capacity 0 and moved its promises) is left out. New slots get
    their derived capacity. With `refresh`, existing slots follow staffing too, where
    that keeps every booked promise (lowering below `booked` is re-planning's job, which
    moves the promises that no longer fit). Offers do not refresh: that would cost every booking a
    pass over the week's shifts, and every capacity change re-plans (callbacks/replanning.py).
    """
    windows = set(_materialise(session, _slot_rules(session, queue_id), start, end, refresh=refresh))
    query = (
        select(CallbackSlot)
        .where(CallbackSlot.queue_id == queue_id, CallbackSlot.starts_at >= start, CallbackSlot.starts_at < end)
        .order_by(CallbackSlot.starts_at)
        .execution_options(populate_existing=True)
    )
    return [s for s in session.scalars(query) if s.starts_at <= now or (s.starts_at, s.ends_at) in windows]


def current_windows(session: Session, queue_id: int, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The slot windows (aware UTC) starting in [start, end) under the queue's rules as they are now."""
    return _windows(_slot_rules(session, queue_id), start, end)


def _windows(rules: QueueConfig, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(rules.timezone)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    closed = closed_days(rules.hours.holiday_country, rules.closed_days, first, last)
    return slot_windows(rules.hours.periods, closed, rules.timezone, rules.slot_minutes, start, end)


def _materialise(
    session: Session, rules: QueueConfig, start: datetime, end: datetime, *, refresh: bool
) -> list[tuple[datetime, datetime]]:
    """Insert the missing slots of [start, end); with `refresh` let existing ones follow staffing.

    Returns the windows of [start, end) under the queue's rules.
    """
    windows = _windows(rules, start, end)
    if not windows:
        return windows
    existing = {
        starts_at: (slot_id, capacity, override)
        for starts_at, slot_id, capacity, override in session.execute(
            select(
                CallbackSlot.starts_at, CallbackSlot.id, CallbackSlot.capacity, CallbackSlot.capacity_override
            ).where(CallbackSlot.queue_id == rules.id, CallbackSlot.starts_at >= start, CallbackSlot.starts_at < end)
        )
    }
    todo = windows if refresh else [window for window in windows if window[0] not in existing]
    if not todo:
        return windows
    queue = queue_of(session, rules.id)
    shifts = shifts_serving(session, queue, todo[0][0], todo[-1][1])
    handle = handle_seconds(session, queue)
    missing = []
    for window_start, window_end in todo:
        derived = staffed_capacity(queue, shifts, window_start, window_end, handle)
        known = existing.get(window_start)
        if known is None:
            missing.append(
                {
                    "queue_id": queue.id,
                    "starts_at": window_start,
                    "ends_at": window_end,
                    "capacity": derived,
                    "closed": False,
                }
            )
        elif known[2] is None and known[1] != derived:
            _follow_staffing(session, known[0], window_start, window_end, derived)
    add_slots(session, missing)
    return windows


def _follow_staffing(session: Session, slot_id: int, starts_at: datetime, ends_at: datetime, derived: int) -> None:
    """Give the slot its derived capacity, unless a promise holds a place at or above it."""
    # Lock first: the check below must see every place taken until now, in a statement of its own
    # (a subquery of the update would read from before the wait).
    lock_slot_for_change(session, slot_id)
    place_at_or_above = (
        select(CallbackPromise.id)
        .where(CallbackPromise.slot_id == CallbackSlot.id, CallbackPromise.place >= derived)
        .correlate(CallbackSlot)
        .exists()
    )
    changed = rows_changed(
        session,
        update(CallbackSlot)
        .where(CallbackSlot.id == slot_id, CallbackSlot.capacity_override.is_(None), ~place_at_or_above)
        .values(capacity=derived)
        .execution_options(synchronize_session=False),
    )
    if changed:
        add_places(session, slot_id, derived)
        retime_waiting(session, starts_at, ends_at, derived, holders_of(session, slot_id))


def holders_of(session: Session, slot_id: int) -> list[CallbackPromise]:
    """Return the promises holding a place of the slot, locked, the latest booked first (they move first)."""
    query = (
        select(CallbackPromise)
        .where(CallbackPromise.slot_id == slot_id, CallbackPromise.place.is_not(None))
        .order_by(CallbackPromise.booked_at.desc(), CallbackPromise.id.desc())
        .with_for_update()
    )
    return list(session.scalars(query))


def retime_waiting(
    session: Session, starts_at: datetime, ends_at: datetime, capacity: int, holders: Iterable[CallbackPromise]
) -> None:
    """Give each holder not yet dialled its place's moment under `capacity` (and a new dial job).

    A place's moment depends on the capacity: after the capacity changed, the promises booked before
    would otherwise share moments with those booked after, and the slot's calls would bunch up.
    """
    for promise in holders:
        if promise.place is None or promise.state != PromiseState.BOOKED.value or promise.attempts:
            continue
        moment = place_dial_time(starts_at, ends_at, capacity, promise.place)
        if promise.planned_dial_at != moment:
            promise.planned_dial_at = moment
            schedule_after_commit(after_commit(session), promise.id, 1, moment)


def _slots_with_room(session: Session, queue_id: int, start: datetime, end: datetime) -> list[SlotState]:
    rows = session.execute(
        select(
            CallbackSlot.id,
            CallbackSlot.starts_at,
            CallbackSlot.ends_at,
            CallbackSlot.capacity,
            CallbackSlot.booked,
            CallbackSlot.closed,
        )
        .where(
            CallbackSlot.queue_id == queue_id,
            CallbackSlot.starts_at >= start,
            CallbackSlot.starts_at < end,
            CallbackSlot.closed.is_(False),
            # A constant, not a bound value: the words of the partial index of bookable slots.
            CallbackSlot.capacity > literal_column("0"),
            CallbackSlot.booked < CallbackSlot.capacity,
        )
        .order_by(CallbackSlot.starts_at)
    )
    return [SlotState(*row) for row in rows]


def offer_slots(
    session: Session,
    *,
    queue_id: int,
    now: datetime,
    zone: str,
    near: datetime | None = None,
    count: int = 3,
    exclude: Iterable[int] = (),
    materialise: bool = True,
) -> list[SlotOffer]:
    """Return up to `count` windows with room: the earliest after the lead time (or the nearest to
    `near`) and the ones after it; outside hours, the first slots of the next opening."""
    rules = _slot_rules(session, queue_id)
    skip = list(exclude)
    start = earliest_start(now, rules.callback_lead_minutes)
    anchor = max(start, near) if near is not None else start
    # Each wider horizon reads only the days the narrower one did not: the same slots, once.
    slots: list[SlotState] = []
    offers: list[SlotOffer] = []
    covered = start
    for horizon in (FIRST_HORIZON, OFFER_HORIZON, WIDE_HORIZON):
        end = anchor + horizon
        if materialise:
            _materialise(session, rules, covered, end, refresh=False)
        slots.extend(_slots_with_room(session, queue_id, covered, end))
        covered = end
        offers = choose_offers(
            slots,
            now=now,
            lead_minutes=rules.callback_lead_minutes,
            zone=zone,
            near=near,
            count=count,
            exclude=skip,
        )
        if len(offers) >= count or (offers and horizon >= OFFER_HORIZON):
            break  # beyond a week only when nothing at all is free this week
    return offers


def next_opening(session: Session, queue_id: int, now: datetime) -> tuple[datetime, datetime] | None:
    """The first slot window of the queue's next opening beyond what offers search (none within a year).

    Offers look up to WIDE_HORIZON ahead; when none of those slots has room, the next opening is
    the first open day after that, from its opening time.
    """
    rules = _slot_rules(session, queue_id)
    zone = ZoneInfo(rules.timezone)
    searched = (earliest_start(now, rules.callback_lead_minutes) + WIDE_HORIZON).astimezone(zone).date()
    start = datetime.combine(searched + timedelta(days=1), time(0), tzinfo=zone)
    windows = _windows(rules, start, start + NEXT_OPENING_HORIZON)
    return windows[0] if windows else None
