"""The claim of a place in a slot: the one module in callbacks that knows which database it runs on.

A slot has one row per place in `callback_places` (0 … capacity − 1; rows above a capacity that
dropped stay, and are not offered). A place is free while its row names no promise. A booking:

1. takes turns with the other bookings of the same number (`take_turns_for_number`), so the later
   one finds the earlier one's promise and moves it instead of losing a race to the index below;
2. holds its candidate slots `FOR KEY SHARE` until commit (`hold_slots`): bookings share it and
   never wait for each other, while a capacity change, which locks its slot `FOR UPDATE`
   (`lock_slot_for_change`), waits for the bookings in flight and keeps new ones out;
3. claims the first free place row of the first candidate that has one, `FOR UPDATE SKIP LOCKED
   LIMIT 1` (`claim_place`): a place another booking is claiming is skipped, not waited for, and
   a place another booking committed after the statement began is seen taken, because PostgreSQL
   reads a row's latest version again once it has locked it;
4. writes its promise id into the row (`take_place`); the promise holds (slot, place) too.

Whatever happens, the unique (slot, place) index of promises and the unique promise id of places
keep two promises out of one place, and a partial unique index keeps one open promise per number.
On SQLite every transaction holds the database's write lock from its BEGIN IMMEDIATE: the same
statements run (SQLAlchemy leaves the lock clauses out) and no other writer can come between.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from callbacks.models import CallbackPlace, CallbackPromise, CallbackSlot

# Bookings of one number wait for each other (PostgreSQL), in the two-int advisory key space.
_NUMBER_LOCK = text("SELECT pg_advisory_xact_lock(6, hashtext(:number))")


@dataclass(frozen=True)
class ClaimedPlace:
    """A place a booking claimed, and what the promise needs of its slot."""

    slot_id: int
    place: int
    starts_at: datetime
    ends_at: datetime
    capacity: int


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def take_turns_for_number(session: Session, number: str) -> None:
    """Wait until no other transaction is booking for `number`; hold the turn until commit."""
    if _is_postgresql(session):
        session.connection().execute(_NUMBER_LOCK, {"number": number})


def hold_slots(session: Session, slot_ids: Iterable[int]) -> None:
    """Keep the capacity and closing of these slots as they are until commit (shared with bookings).

    In time order, as a capacity change takes them: two transactions that take the same locks in
    one order never wait for each other in a circle.
    """
    ids = list(slot_ids)
    if ids:
        session.connection().execute(
            select(CallbackSlot.id)
            .where(CallbackSlot.id.in_(ids))
            .order_by(CallbackSlot.starts_at)
            .with_for_update(read=True, key_share=True)
        )


def lock_slot_for_change(session: Session, slot_id: int) -> None:
    """Wait for the bookings of the slot in flight and keep new ones out until commit."""
    session.connection().execute(select(CallbackSlot.id).where(CallbackSlot.id == slot_id).with_for_update())


def claim_place(session: Session, slot_ids: Sequence[int], queue_id: int, now: datetime) -> ClaimedPlace | None:
    """Claim the first free place of the first of `slot_ids` that has one, for this transaction.

    A slot of another queue, closed or begun gives none. Places held at or above the capacity (left
    by a capacity that dropped under promises that could not move) leave as many places free below
    it, so a slot never holds more promises than its capacity.
    """
    candidates = list(dict.fromkeys(slot_ids))
    if not candidates:
        return None
    hold_slots(session, candidates)
    held_above = (
        select(func.count())
        .where(CallbackPromise.slot_id == CallbackSlot.id, CallbackPromise.place >= CallbackSlot.capacity)
        .correlate(CallbackSlot)
        .scalar_subquery()
    )
    order = case({slot_id: i for i, slot_id in enumerate(candidates)}, value=CallbackPlace.slot_id)
    row = (
        session.connection()
        .execute(
            select(
                CallbackPlace.slot_id,
                CallbackPlace.place,
                CallbackSlot.starts_at,
                CallbackSlot.ends_at,
                CallbackSlot.capacity,
            )
            .join(CallbackSlot, CallbackSlot.id == CallbackPlace.slot_id)
            .where(
                CallbackPlace.slot_id.in_(candidates),
                CallbackPlace.promise_id.is_(None),
                CallbackSlot.queue_id == queue_id,
                CallbackSlot.closed.is_(False),
                CallbackSlot.starts_at > now,
                CallbackPlace.place < CallbackSlot.capacity - held_above,
            )
            .order_by(order, CallbackPlace.place)
            .limit(1)
            .with_for_update(skip_locked=True, of=CallbackPlace)
        )
        .first()
    )
    return None if row is None else ClaimedPlace(*row)


def take_place(session: Session, promise: CallbackPromise) -> None:
    """Write the (flushed) promise into the place row it claimed."""
    session.execute(
        update(CallbackPlace)
        .where(CallbackPlace.slot_id == promise.slot_id, CallbackPlace.place == promise.place)
        .values(promise_id=promise.id)
        .execution_options(synchronize_session=False)
    )


def give_back_place(session: Session, promise: CallbackPromise) -> None:
    """Free the promise's place for the next booking (cancelled, moved, missed)."""
    promise.place = None
    if promise.id is not None:
        session.execute(
            update(CallbackPlace)
            .where(CallbackPlace.promise_id == promise.id)
            .values(promise_id=None)
            .execution_options(synchronize_session=False)
        )
    session.flush()  # the old promise leaves the place before a new one may enter it


def move_to_place(session: Session, promise: CallbackPromise, place: int) -> None:
    """Give a promise another place of its slot (renumbering below a capacity that dropped)."""
    give_back_place(session, promise)
    promise.place = place
    session.flush()
    take_place(session, promise)


def set_capacity(session: Session, slot: CallbackSlot, capacity: int) -> None:
    """Give the slot this capacity, and a place row for each place below it.

    Whoever lowers a capacity under promises holding places must also move them (callbacks/rebalance.py).
    """
    slot.capacity = capacity
    session.flush()
    add_places(session, slot.id, capacity)


def add_places(session: Session, slot_id: int, capacity: int) -> None:
    """Give the slot a place row for each place below `capacity` it has no row for yet."""
    have = set(session.scalars(select(CallbackPlace.place).where(CallbackPlace.slot_id == slot_id)))
    missing = [{"slot_id": slot_id, "place": place} for place in range(capacity) if place not in have]
    if missing:
        session.connection().execute(_insert(session, CallbackPlace).on_conflict_do_nothing(), missing)


def add_slots(session: Session, slots: Sequence[Mapping[str, Any]]) -> None:
    """Insert the slots with their place rows; a slot another transaction inserted first is kept."""
    # Two processes may materialise the same slot at once: the unique (queue, start) decides.
    if not slots:
        return
    session.flush()
    connection = session.connection()
    new_slot = _insert(session, CallbackSlot).on_conflict_do_nothing().returning(CallbackSlot.id, CallbackSlot.capacity)
    inserted = connection.execute(new_slot, list(slots)).all()
    places = [{"slot_id": slot_id, "place": place} for slot_id, capacity in inserted for place in range(capacity)]
    if places:
        connection.execute(_insert(session, CallbackPlace), places)


def _insert(session: Session, model: type[Any]) -> Any:
    dialect = postgresql if _is_postgresql(session) else sqlite
    return dialect.insert(model.__table__)
