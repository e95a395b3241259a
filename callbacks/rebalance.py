"""Capacity follows staffing: recompute slots after shift or slot-override changes, move what no longer fits.

A capacity change locks its slot for change (callbacks/places.py): it waits for the bookings in
flight, keeps new ones out until it commits, and its statements see every place taken. In a slot
over capacity the latest-booked promises are moved by us, and each caller is told the new window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.booking import rebook
from callbacks.capacity import effective_capacity
from callbacks.errors import SlotFull
from callbacks.models import CallbackPromise, CallbackSlot, PromiseState
from callbacks.offers import (
    ensure_slots,
    handle_seconds,
    holders_of,
    offer_slots,
    queue_of,
    retime_waiting,
    shifts_serving,
    staffed_capacity,
)
from callbacks.places import give_back_place, lock_slot_for_change, move_to_place, set_capacity
from callbacks.promise import transition
from callbacks.scheduling import unschedule_after_commit
from callbacks.texts import text_caller, window_text
from routing.models import Agent, Queue
from terugbel.i18n import format_window, t
from terugbel.logs import get_logger
from terugbel.phone import display_number, mask
from terugbel.unit_of_work import after_commit

log = get_logger(__name__)


@dataclass(frozen=True)
class MovedPromise:
    """A promise we moved because capacity dropped: the old id, the new one (None if none fitted)."""

    old_id: int
    new_id: int | None


def recompute_capacity(
    session: Session, queue_id: int, start: datetime, end: datetime, now: datetime
) -> list[MovedPromise]:
    """Set each slot's capacity from staffing again; move the promises that no longer fit.

    In a slot over capacity the latest-booked promises move first, to the nearest later slot with
    room (an earlier one only when nothing later is free), and each caller gets an SMS with the new
    window at once. A promise that fits nowhere is missed, and the caller is told.
    """
    queue = queue_of(session, queue_id)
    slots = ensure_slots(session, queue_id, max(start, now), end, now)
    if not slots:
        return []
    shifts = shifts_serving(session, queue, slots[0].starts_at, slots[-1].ends_at)
    handle = handle_seconds(session, queue)
    moved: list[MovedPromise] = []
    for slot in slots:
        derived = staffed_capacity(queue, shifts, slot.starts_at, slot.ends_at, handle)
        capacity = effective_capacity(derived, slot.capacity_override)
        # Waits for the bookings in flight; the statements after it see their places.
        lock_slot_for_change(session, slot.id)
        set_capacity(session, slot, capacity)
        if slot.starts_at <= now:
            continue
        holders = holders_of(session, slot.id)
        overflow = len(holders) - capacity
        victims = [p for p in holders if p.state == PromiseState.BOOKED.value][: max(overflow, 0)]
        for promise in victims:
            moved.append(_move_by_us(session, promise, now))
        _renumber_below(session, slot, [p for p in holders if p not in victims], capacity)
    return moved


def _renumber_below(session: Session, slot: CallbackSlot, holders: Sequence[CallbackPromise], capacity: int) -> None:
    """Give the holders numbered at or above `capacity` the free places below it (as many as there are).

    Bookings only take places below capacity − (holders at or above it), so a slot whose capacity
    dropped is never overbooked; renumbering gives the room back to new bookings. The promises not
    yet dialled then get their place's moment under the new capacity.
    """
    free = sorted(set(range(capacity)) - {p.place for p in holders})
    for promise in sorted((p for p in holders if p.place is not None and p.place >= capacity), key=_place_of):
        if not free:
            break
        move_to_place(session, promise, free.pop(0))
    retime_waiting(session, slot.starts_at, slot.ends_at, capacity, holders)
    session.flush()


def _place_of(promise: CallbackPromise) -> int:
    return promise.place or 0


def recompute_for_agent(
    session: Session, agent_id: int, start: datetime, end: datetime, now: datetime
) -> list[MovedPromise]:
    """Recompute the capacity of every queue the agent serves (after their shifts changed)."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        return []
    queues = session.scalars(select(Queue).where(Queue.skill.in_(agent.skills or [])))
    moved: list[MovedPromise] = []
    for queue in list(queues):
        moved.extend(recompute_capacity(session, queue.id, start, end, now))
    return moved


def _move_by_us(session: Session, promise: CallbackPromise, now: datetime) -> MovedPromise:
    old_window = format_window(promise.window_start, promise.window_end, promise.timezone, promise.language, now)
    offers = offer_slots(
        session,
        queue_id=promise.queue_id,
        now=now,
        zone=promise.timezone,
        near=promise.window_start,
        count=50,
        exclude=[promise.slot_id] if promise.slot_id else [],
    )
    later = [o for o in offers if o.window_start >= promise.window_start]
    for offer in later + [o for o in offers if o not in later]:
        try:
            new = rebook(session, promise, offer.slot_id, now, cause="capacity dropped", by_us=True)
        except SlotFull:
            continue
        body = t(
            promise.language,
            "cb_sms_moved_by_us",
            old_window=old_window,
            window=window_text(new, now),
            number=display_number(new.number),
        )
        text_caller(session, new, body, "moved_by_us", now)
        log.info("promise moved by us", promise_id=promise.id, new_promise_id=new.id, number=mask(promise.number))
        return MovedPromise(promise.id, new.id)
    give_back_place(session, promise)
    transition(promise, PromiseState.MISSED, now, "capacity dropped: no slot with room")
    promise.reason = "capacity dropped and no slot with room in the coming days"
    unschedule_after_commit(after_commit(session), promise.id)
    text_caller(session, promise, t(promise.language, "cb_sms_cannot_keep", old_window=old_window), "cannot_keep", now)
    return MovedPromise(promise.id, None)
