"""Which place a booking claims: the first free place of the first candidate slot that has one.

The claim is one statement on both databases (callbacks/places.py). It must follow the rule of
`free_places` below, checked here against hand-computed cases and, for any capacity and places
held, against the rule itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from callbacks.booking import book_callback
from callbacks.offers import ensure_slots
from callbacks.places import claim_place, set_capacity
from terugbel.clock import ManualClock
from terugbel.db import Database

AMS = ZoneInfo("Europe/Amsterdam")
HELD_AT_MOST = 6  # places a slot may hold in these cases (numbered 0 … HELD_AT_MOST + 1)


def free_places(capacity: int, held: list[int]) -> list[int]:
    """The places a booking may take, in order: those free below capacity − (places held at or above it).

    Places at or above the capacity are left by a capacity that dropped under bookings that could
    not move; leaving as many free below it keeps the slot from holding more than its capacity.
    """
    taken = set(held)
    usable = capacity - sum(1 for place in taken if place >= capacity)
    return [place for place in range(usable) if place not in taken]


def local(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, 23, hh, mm, tzinfo=AMS).astimezone(UTC)


class Slots:
    """Slots of today (10:00, 10:15 and the past 08:00) and spare promises (in 10:30) to hold their places."""

    def __init__(self, session: Session, queue_id: int, now: datetime) -> None:
        self.session = session
        self.queue_id = queue_id
        self.now = now
        starts = {slot.starts_at: slot.id for slot in ensure_slots(session, queue_id, local(8), local(11), now)}
        self.ten, self.quarter_past, self.past = starts[local(10)], starts[local(10, 15)], starts[local(8)]
        self.spare = starts[local(10, 30)]

    def set(self, slot_id: int, capacity: int, held: list[int], *, closed: bool = False) -> None:
        """Give the slot this capacity and make spare promises hold exactly `held` of its places.

        The slot's place rows are those a capacity change leaves: one for each place below the
        capacity, and one for each place held above it.
        """
        run = self.session.execute
        run(
            text("UPDATE callback_slots SET capacity = :capacity, closed = :closed WHERE id = :id"),
            {"capacity": capacity, "closed": closed, "id": slot_id},
        )
        run(
            text("UPDATE callback_promises SET slot_id = :spare, place = NULL WHERE slot_id = :slot"),
            {"spare": self.spare, "slot": slot_id},
        )
        run(text("DELETE FROM callback_places WHERE slot_id = :slot"), {"slot": slot_id})
        idle = run(text("SELECT id FROM callback_promises WHERE place IS NULL ORDER BY id")).scalars()
        holders = dict(zip(held, idle.all(), strict=False))
        for place in sorted(set(range(capacity)) | set(holders)):
            run(
                text("INSERT INTO callback_places (slot_id, place, promise_id) VALUES (:slot, :place, :promise)"),
                {"slot": slot_id, "place": place, "promise": holders.get(place)},
            )
        for place, promise_id in holders.items():
            run(
                text("UPDATE callback_promises SET slot_id = :slot, place = :place WHERE id = :id"),
                {"slot": slot_id, "place": place, "id": promise_id},
            )

    def claim(self, candidates: list[int]) -> tuple[int, int] | None:
        claimed = claim_place(self.session, candidates, self.queue_id, self.now)
        return None if claimed is None else (claimed.slot_id, claimed.place)


@pytest.fixture
def slots(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> Iterator[Slots]:
    queue = make_queue("technisch")
    make_agent("Agent", "+31611110000", ("technisch",), shifts=[(local(8), local(21))])
    now = local(9)
    with db.session() as session:
        [spare] = ensure_slots(session, queue.id, local(10, 30), local(10, 45), now)
        spare.capacity_override = 2 * HELD_AT_MOST
        set_capacity(session, spare, 2 * HELD_AT_MOST)
    for n in range(2 * HELD_AT_MOST):
        with db.session() as session:
            book_callback(
                session,
                queue_id=queue.id,
                number=f"+316222000{n:02d}",
                language="nl",
                timezone="Europe/Amsterdam",
                now=now,
                slot_id=spare.id,
                notify=False,
            )
    with db.session() as session:
        session.execute(text("UPDATE callback_promises SET place = NULL"))
        session.execute(text("UPDATE callback_places SET promise_id = NULL"))
        yield Slots(session, queue.id, now)
        session.rollback()


def test_the_first_free_place_of_the_first_slot_with_one(slots: Slots) -> None:
    slots.set(slots.ten, 3, [0, 2])
    slots.set(slots.quarter_past, 3, [])
    assert slots.claim([slots.ten, slots.quarter_past]) == (slots.ten, 1)
    assert slots.claim([slots.quarter_past, slots.ten]) == (slots.quarter_past, 0)


def test_places_held_above_a_dropped_capacity_leave_as_many_free_below_it(slots: Slots) -> None:
    # Capacity dropped from 4 to 2 under a promise that could not move (place 3): one place usable.
    slots.set(slots.ten, 2, [0, 3])
    slots.set(slots.quarter_past, 2, [1])
    assert slots.claim([slots.ten, slots.quarter_past]) == (slots.quarter_past, 0)
    slots.set(slots.quarter_past, 2, [0, 4])
    assert slots.claim([slots.ten, slots.quarter_past]) is None


def test_closed_and_past_slots_give_no_place(slots: Slots) -> None:
    slots.set(slots.ten, 3, [], closed=True)
    slots.set(slots.past, 3, [])
    slots.set(slots.quarter_past, 1, [])
    assert slots.claim([slots.ten, slots.past, slots.quarter_past]) == (slots.quarter_past, 0)
    assert slots.claim([slots.ten, slots.past]) is None


held_places = st.lists(st.integers(0, HELD_AT_MOST + 1), max_size=HELD_AT_MOST, unique=True)


@given(
    first=st.tuples(st.integers(0, HELD_AT_MOST), held_places, st.booleans()),
    second=st.tuples(st.integers(0, HELD_AT_MOST), held_places, st.booleans()),
)
def test_the_claim_follows_free_places(
    slots: Slots, first: tuple[int, list[int], bool], second: tuple[int, list[int], bool]
) -> None:
    expected = None
    for slot_id, (capacity, held, closed) in ((slots.ten, first), (slots.quarter_past, second)):
        slots.set(slot_id, capacity, held, closed=closed)
        free = [] if closed else free_places(capacity, held)
        if expected is None and free:
            expected = (slot_id, free[0])
    assert slots.claim([slots.ten, slots.quarter_past]) == expected
