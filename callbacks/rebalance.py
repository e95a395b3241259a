"""Moving the promises a capacity change no longer fits (callbacks/replanning.py decides which).

A capacity change locks its slot for change (callbacks/places.py): it waits for the bookings in
flight, keeps new ones out until it commits, and its statements see every place taken. In a slot
over capacity the latest-booked promises are moved by us, and each caller is told the new window.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from callbacks.booking import rebook
from callbacks.errors import SlotFull
from callbacks.models import CallbackPromise, CallbackSlot, PromiseState
from callbacks.offers import (
    offer_slots,
    retime_waiting,
)
from callbacks.places import give_back_place, move_to_place
from callbacks.promise import transition
from callbacks.scheduling import unschedule_after_commit
from callbacks.texts import offer_next_opening, text_caller, window_text
from terugbel.i18n import format_window, t
from terugbel.logs import get_logger
from terugbel.phone import display_number, mask
from terugbel.unit_of_work import after_commit

log = get_logger(__name__)

# The reason of a promise that had to move and found no slot with room (the board shows it).
NO_SLOT_WITH_ROOM = "capacity dropped and no slot with room in the coming days"
CANNOT_KEEP_SMS_PURPOSE = "cannot_keep"  # the text to a caller whose promise no slot could take


@dataclass(frozen=True)
class MovedPromise:
    """A promise we moved because capacity dropped: the old id, the new one (None if none fitted)."""

    old_id: int
    new_id: int | None


def renumber_below(session: Session, slot: CallbackSlot, holders: Sequence[CallbackPromise], capacity: int) -> None:
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


def move_by_us(
    session: Session, promise: CallbackPromise, now: datetime, cause: str, *, avoid: Collection[int] = ()
) -> MovedPromise:
    """Move a promise that no longer fits to the nearest slot with room, a later one preferred.

    The caller is texted the new window at once; the new promise says why it was moved (`cause`).
    Its own slot is skipped unless that slot's window changed (another slot length): then the
    slot's new window may be the nearest; so are the slots in `avoid`. A promise that fits nowhere
    is missed, and the caller told when we are open again (callbacks/texts.py `offer_next_opening`).
    """
    slot = session.get(CallbackSlot, promise.slot_id) if promise.slot_id is not None else None
    same_window = slot is not None and (slot.starts_at, slot.ends_at) == (promise.window_start, promise.window_end)
    old_window = format_window(promise.window_start, promise.window_end, promise.timezone, promise.language, now)
    offers = offer_slots(
        session,
        queue_id=promise.queue_id,
        now=now,
        zone=promise.timezone,
        near=promise.window_start,
        count=50,
        exclude=[*avoid, slot.id] if slot is not None and same_window else list(avoid),
    )
    later = [o for o in offers if o.window_start >= promise.window_start]
    for offer in later + [o for o in offers if o not in later]:
        try:
            new = rebook(session, promise, offer.slot_id, now, cause=cause, by_us=True)
        except SlotFull:
            continue
        new.reason = cause[:200]
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
    transition(promise, PromiseState.MISSED, now, f"{cause}: no slot with room"[:200])
    promise.reason = NO_SLOT_WITH_ROOM
    unschedule_after_commit(after_commit(session), promise.id)
    opening = offer_next_opening(session, promise, now)
    body = (
        t(promise.language, "cb_sms_cannot_keep", old_window=old_window, window=opening)
        if opening is not None
        else t(promise.language, "cb_sms_no_opening", old_window=old_window)
    )
    text_caller(session, promise, body, CANNOT_KEEP_SMS_PURPOSE, now)
    return MovedPromise(promise.id, None)
