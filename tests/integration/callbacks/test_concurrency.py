"""Booking under real concurrency: threads racing for the last places, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select, text

from callbacks.booking import book_callback, in_savepoint_with_retry, move_promise
from callbacks.errors import CallbackError
from callbacks.models import OPEN_PROMISE_STATES, CallbackPromise, CallbackSlot
from callbacks.offers import ensure_slots
from callbacks.places import set_capacity as set_slot_capacity
from callbacks.replanning import ReplanCause, replan_queue
from terugbel.clock import ManualClock
from terugbel.db import Database, plain_rows

AMS = ZoneInfo("Europe/Amsterdam")
OPEN = [s.value for s in OPEN_PROMISE_STATES]
_LOCK_SLOT_ROW = text("SELECT id FROM callback_slots WHERE id = :slot_id FOR UPDATE")


def local(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, d, hh, mm, tzinfo=AMS).astimezone(UTC)


def last_places(db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], now: datetime) -> Any:
    """A queue whose only places left are 2 at 09:30 and 3 at 09:45 today."""
    queue = make_queue("technisch")
    for i in range(4):
        make_agent(f"Agent {i}", f"+3161111000{i}", ("technisch",), shifts=[(local(23, 8), local(23, 21))])
    with db.session() as session:
        for slot in ensure_slots(session, queue.id, now, local(24, 0), now):
            if slot.starts_at == local(23, 9, 30):
                slot.capacity_override = 2
                set_slot_capacity(session, slot, 2)
            elif slot.starts_at == local(23, 9, 45):
                slot.capacity_override = 3
                set_slot_capacity(session, slot, 3)
            else:
                slot.closed = True
    return queue


def open_only(
    db: Database,
    make_queue: Callable[..., Any],
    make_agent: Callable[..., Any],
    now: datetime,
    places: dict[datetime, int],
) -> tuple[Any, dict[datetime, int]]:
    """A queue with 4 agents today whose only open slots are `places` (start → capacity); return
    the queue and the slot ids by start."""
    queue = make_queue("technisch")
    for i in range(4):
        make_agent(f"Agent {i}", f"+3161111000{i}", ("technisch",), shifts=[(local(23, 8), local(23, 21))])
    with db.session() as session:
        slots = ensure_slots(session, queue.id, now, local(24, 0), now)
        for slot in slots:
            slot.closed = slot.starts_at not in places
            if not slot.closed:
                slot.capacity_override = places[slot.starts_at]
                set_slot_capacity(session, slot, places[slot.starts_at])
        return queue, {slot.starts_at: slot.id for slot in slots}


def set_capacity(db: Database, slot_id: int, capacity: int, now: datetime) -> None:
    """A supervisor overrides the slot's capacity (what no longer fits is moved)."""
    with db.session() as session:
        slot = session.get(CallbackSlot, slot_id)
        assert slot is not None
        slot.capacity_override = capacity
        session.flush()
        replan_queue(
            session, slot.queue_id, now=now, cause=ReplanCause.SLOT_CAPACITY, start=slot.starts_at, end=slot.ends_at
        )


def race(count: int, attempt: Callable[[int], None]) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
        except CallbackError:
            pass  # no place left: the expected answer for most
        except BaseException as exc:  # anything else is a bug the test must show
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def wait_until_it_waits_for_a_lock(db: Database, thread: threading.Thread) -> None:
    """A short bounded poll (PostgreSQL) until some transaction waits for a lock."""
    waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
    for _ in range(200):
        with db.engine.connect() as look:
            if look.execute(waiting).scalar():
                return
        thread.join(timeout=0.05)
    raise AssertionError("nothing waited for a lock")


def book_in_thread(db: Database, queue: Any, now: datetime, number: str, **kwargs: Any) -> None:
    with db.session() as session:
        book_callback(
            session, queue_id=queue.id, number=number, language="nl", timezone="Europe/Amsterdam", now=now, **kwargs
        )


def assert_consistent(db: Database) -> dict[str, int]:
    with db.session() as session:
        slots = list(session.scalars(select(CallbackSlot)))
        open_promises = session.execute(
            select(CallbackPromise.slot_id, CallbackPromise.number, CallbackPromise.planned_dial_at).where(
                CallbackPromise.state.in_(OPEN)
            )
        ).all()
        places = session.execute(
            select(CallbackPromise.slot_id, CallbackPromise.place).where(CallbackPromise.place.is_not(None))
        ).all()
        per_number = session.execute(
            select(CallbackPromise.number, func.count())
            .where(CallbackPromise.state.in_(OPEN))
            .group_by(CallbackPromise.number)
        ).all()
    assert all(slot.booked <= slot.capacity for slot in slots), "a slot is over capacity"
    capacity = {slot.id: slot.capacity for slot in slots}
    assert all(slot_id is not None and place is not None and place < capacity[slot_id] for slot_id, place in places), (
        "a place beyond the slot's capacity"
    )
    assert len(set(places)) == len(places), "two promises hold one place"
    for slot in slots:
        dial_times = [dial_at for slot_id, _, dial_at in open_promises if slot_id == slot.id]
        assert slot.booked == len(dial_times)
        # Bookings that raced for the slot still spread over it, one moment each, as one by one.
        assert len(set(dial_times)) == len(dial_times), "two callbacks of a slot share a dial time"
    assert all(count == 1 for _, count in per_number), "a caller has two open promises"
    return {"open": len(open_promises), "booked": sum(slot.booked for slot in slots)}


def test_50_threads_race_for_the_last_5_places(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    now = clock.now()
    queue = last_places(db, make_queue, make_agent, now)
    errors = race(50, lambda i: book_in_thread(db, queue, now, f"+316200000{i:02d}"))
    assert errors == []
    assert assert_consistent(db) == {"open": 5, "booked": 5}


def test_50_threads_race_for_one_slot_by_id(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    now = clock.now()
    queue = last_places(db, make_queue, make_agent, now)
    with db.session() as session:
        slot_id = session.scalar(select(CallbackSlot.id).where(CallbackSlot.starts_at == local(23, 9, 45)))
    errors = race(50, lambda i: book_in_thread(db, queue, now, f"+316200000{i:02d}", slot_id=slot_id))
    assert errors == []
    assert assert_consistent(db) == {"open": 3, "booked": 3}


def test_one_caller_booking_from_many_threads_keeps_one_promise(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    now = clock.now()
    queue = last_places(db, make_queue, make_agent, now)
    # Twelve tries by the same number, some for 09:30 and some for 09:45, plus other callers.
    errors = race(
        20,
        lambda i: book_in_thread(
            db,
            queue,
            now,
            "+31612345678" if i < 12 else f"+316200000{i:02d}",
            near=local(23, 9, 30) if i % 2 else local(23, 9, 45),
        ),
    )
    assert errors == []
    state = assert_consistent(db)
    assert state["open"] == state["booked"] <= 5
    with db.session() as session:
        mine = session.scalars(select(CallbackPromise).where(CallbackPromise.number == "+31612345678")).all()
    mine_open = sum(1 for p in mine if p.state in OPEN)
    assert mine_open <= 1
    assert all(p.state in (*OPEN, "moved") for p in mine)
    # A move never loses the place it held: every moved promise points at its successor.
    assert all(p.moved_to_id is not None for p in mine if p.state == "moved")
    if mine_open == 0:
        # Legitimate only when the other callers took every place before any of these tries landed.
        assert mine == [] and state["booked"] == 5


def test_moves_in_opposite_directions_all_land(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    now = clock.now()
    queue, ids = open_only(db, make_queue, make_agent, now, {local(23, 10): 20, local(23, 10, 15): 20})
    a_id, b_id = ids[local(23, 10)], ids[local(23, 10, 15)]
    promises = []
    for i in range(20):
        with db.session() as session:
            promise = book_callback(
                session,
                queue_id=queue.id,
                number=f"+316300000{i:02d}",
                language="nl",
                timezone="Europe/Amsterdam",
                now=now,
                slot_id=a_id if i % 2 else b_id,
            )
            promises.append((promise.id, b_id if i % 2 else a_id))

    def move(i: int) -> None:
        promise_id, target = promises[i]
        with db.session() as session:
            move_promise(session, promise_id, now, slot_id=target)

    assert race(20, move) == []
    assert assert_consistent(db) == {"open": 20, "booked": 20}
    with db.session() as session:
        moved = session.scalar(
            select(func.count()).select_from(CallbackPromise).where(CallbackPromise.state == "moved")
        )
    assert moved == 20


def test_capacity_dropping_while_callers_book_never_overbooks(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    """Supervisors lower a slot's capacity while 30 callers book it: what no longer fits moves."""
    now = clock.now()
    queue, ids = open_only(db, make_queue, make_agent, now, {local(23, 10): 12, local(23, 10, 15): 30})
    target_id = ids[local(23, 10)]
    lowered_to = [6, 3, 8]

    def attempt(i: int) -> None:
        if i < len(lowered_to):
            set_capacity(db, target_id, lowered_to[i], now)
        else:
            book_in_thread(db, queue, now, f"+316400000{i:02d}", near=local(23, 10))

    assert race(33, attempt) == []
    state = assert_consistent(db)
    assert state["open"] == state["booked"] == 30  # the other slot takes what no longer fits
    with db.session() as session:
        final = session.get(CallbackSlot, target_id)
        assert final is not None and final.capacity == final.capacity_override in lowered_to


def test_a_capacity_change_waits_for_the_booking_in_flight(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    """A booking holds its slot until commit: lowering the capacity meanwhile sees its place and moves it."""
    now = clock.now()
    queue, ids = open_only(db, make_queue, make_agent, now, {local(23, 10): 2, local(23, 10, 15): 2})
    target_id = ids[local(23, 10)]
    book_in_thread(db, queue, now, "+31640000001", slot_id=target_id)  # place 0 of 2

    lowered = threading.Event()

    def lower_to_one() -> None:
        set_capacity(db, target_id, 1, now)
        lowered.set()

    supervisor = threading.Thread(target=lower_to_one)
    booking_thread = threading.current_thread()
    changed_meanwhile: list[bool] = []

    def between_claim_and_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The booking has claimed place 1 of 2 and is about to write its promise: the supervisor
        # lowers the capacity now. The change must wait for this booking (had it not, it would be
        # done well within the half second).
        first_insert = "INSERT INTO callback_promises" in statement and not changed_meanwhile
        if first_insert and threading.current_thread() is booking_thread:
            supervisor.start()
            changed_meanwhile.append(lowered.wait(timeout=0.5))

    event.listen(db.engine, "before_cursor_execute", between_claim_and_insert)
    try:
        book_in_thread(db, queue, now, "+31640000002", slot_id=target_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", between_claim_and_insert)
    assert changed_meanwhile == [False], "the capacity changed under a booking in flight"
    supervisor.join(timeout=30)
    assert lowered.is_set()
    assert assert_consistent(db) == {"open": 2, "booked": 2}
    with db.session() as session:
        moved = session.scalars(select(CallbackPromise).where(CallbackPromise.moved_by_us.is_(True))).one()
        assert (moved.number, moved.window_start) == ("+31640000002", local(23, 10, 15))


def test_the_transaction_picked_to_break_a_deadlock_tries_again_in_its_savepoint(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    """Two moves in opposite directions deadlock; PostgreSQL fails one of them, which rolls back to
    its savepoint (keeping what its transaction did before) and tries again once the other is done."""
    if db.is_sqlite:
        pytest.skip("SQLite serialises every writer: no deadlock to break")
    now = clock.now()
    _queue, ids = open_only(db, make_queue, make_agent, now, {local(23, 10): 1, local(23, 10, 15): 1})
    slot_a, slot_b = ids[local(23, 10)], ids[local(23, 10, 15)]
    both_hold_one = threading.Barrier(2)
    attempts = {slot_a: 0, slot_b: 0}
    errors: list[BaseException] = []

    def move(first: int, second: int) -> None:
        def lock_both() -> int:
            attempts[first] += 1
            plain_rows(session, _LOCK_SLOT_ROW, {"slot_id": first}, flush=False)
            if attempts[first] == 1:
                both_hold_one.wait(timeout=30)
            return plain_rows(session, _LOCK_SLOT_ROW, {"slot_id": second}, flush=False).scalar()

        try:
            with db.session() as session:
                plain_rows(session, _LOCK_SLOT_ROW, {"slot_id": -1})  # the transaction's work before the savepoint
                assert in_savepoint_with_retry(session, lock_both) == second
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=move, args=pair) for pair in ((slot_a, slot_b), (slot_b, slot_a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(attempts.values()) == [1, 2]  # one was picked to break the deadlock, and tried again


def test_a_booking_takes_its_slots_in_the_order_a_capacity_change_does(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    """A capacity change locks slots one by one in time order; a booking locks the slots it will try
    in one go, before its savepoint, in the same order. Had it taken 10:15 first, it would hold 10:15
    while waiting for 10:00, which the change holds while waiting for 10:15, and PostgreSQL would
    fail one of them."""
    if db.is_sqlite:
        pytest.skip("SQLite serialises every writer: no lock to take in an order")
    now = clock.now()
    queue, ids = open_only(db, make_queue, make_agent, now, {local(23, 10): 1, local(23, 10, 15): 1})
    change = db.engine.connect()
    transaction = change.begin()
    errors: list[BaseException] = []
    try:
        change.execute(_LOCK_SLOT_ROW, {"slot_id": ids[local(23, 10)]})  # as lock_slot_for_change does

        def book_earliest() -> None:
            try:
                book_in_thread(db, queue, now, "+31640000003")
            except BaseException as exc:
                errors.append(exc)

        booking = threading.Thread(target=book_earliest)
        booking.start()
        wait_until_it_waits_for_a_lock(db, booking)
        change.execute(_LOCK_SLOT_ROW, {"slot_id": ids[local(23, 10, 15)]})  # the change goes on to 10:15
        transaction.commit()
    finally:
        change.close()
    booking.join(timeout=30)
    assert errors == []
    with db.session() as session:
        assert session.scalars(select(CallbackPromise.window_start)).one() == local(23, 10)


def test_a_place_another_booking_is_claiming_is_skipped_and_one_it_committed_is_seen_taken(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    """Another transaction holds place 0 of 10:00 (claimed, not yet committed): a booking takes
    place 1 without waiting, and once the other commits, the next booking takes place 2."""
    if db.is_sqlite:
        pytest.skip("SQLite serialises every writer: no other booking is in flight")
    now = clock.now()
    queue, ids = open_only(db, make_queue, make_agent, now, {local(23, 10): 3, local(23, 10, 15): 1})
    ten = ids[local(23, 10)]
    book_in_thread(db, queue, now, "+31640000004", slot_id=ids[local(23, 10, 15)])
    rolled_back: list[str] = []

    def count_rollbacks(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("ROLLBACK TO SAVEPOINT"):
            rolled_back.append(statement)

    event.listen(db.engine, "before_cursor_execute", count_rollbacks)
    try:
        with db.engine.connect() as in_flight, in_flight.begin():
            in_flight.execute(
                text("SELECT place FROM callback_places WHERE slot_id = :slot AND place = 0 FOR UPDATE"), {"slot": ten}
            )
            in_flight.execute(
                text("UPDATE callback_promises SET slot_id = :slot, place = 0 WHERE number = '+31640000004'"),
                {"slot": ten},
            )
            in_flight.execute(
                text(
                    "UPDATE callback_places SET promise_id = NULL WHERE promise_id = "
                    "(SELECT id FROM callback_promises WHERE number = '+31640000004')"
                )
            )
            in_flight.execute(
                text(
                    "UPDATE callback_places SET promise_id = (SELECT id FROM callback_promises "
                    "WHERE number = '+31640000004') WHERE slot_id = :slot AND place = 0"
                ),
                {"slot": ten},
            )
            book_in_thread(db, queue, now, "+31640000005", near=local(23, 10))
        book_in_thread(db, queue, now, "+31640000006", near=local(23, 10))
    finally:
        event.remove(db.engine, "before_cursor_execute", count_rollbacks)
    assert rolled_back == []  # no error to recover from: taken places are never tried
    with db.session() as session:
        taken = session.execute(
            select(CallbackPromise.number, CallbackPromise.slot_id, CallbackPromise.place).order_by(
                CallbackPromise.number
            )
        ).all()
    assert [tuple(row) for row in taken] == [
        ("+31640000004", ten, 0),
        ("+31640000005", ten, 1),
        ("+31640000006", ten, 2),
    ]
    assert assert_consistent(db) == {"open": 3, "booked": 3}


def test_a_place_committed_while_the_claim_runs_is_seen_taken(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    """The claim's lock clause (`FOR UPDATE SKIP LOCKED` on the place rows) reads a row it locks as
    it is now, not as of the statement's start: a place another booking committed while the
    statement ran is not taken again, and the next free one is."""
    if db.is_sqlite:
        pytest.skip("SQLite serialises every writer: nothing commits while a statement runs")
    now = clock.now()
    queue, ids = open_only(db, make_queue, make_agent, now, {local(23, 10): 2, local(23, 10, 15): 1})
    ten = ids[local(23, 10)]
    book_in_thread(db, queue, now, "+31640000007", slot_id=ids[local(23, 10, 15)])
    gate = db.engine.connect()
    gate.execute(text("SELECT pg_advisory_lock(424242)"))
    answers: list[Any] = []
    # The statement's snapshot is taken before it waits at the gate; its rows are locked after.
    asked = text(
        "SELECT place.place FROM (SELECT pg_advisory_lock(424242)) AS waited, (SELECT pg_advisory_unlock(424242)) "
        "AS done, callback_places AS place WHERE place.slot_id = :slot AND place.promise_id IS NULL "
        "ORDER BY place.place LIMIT 1 FOR UPDATE OF place SKIP LOCKED"
    )

    def ask() -> None:
        with db.engine.connect() as asking, asking.begin():
            answers.append(asking.execute(asked, {"slot": ten}).scalar())

    asking = threading.Thread(target=ask)
    try:
        asking.start()
        wait_until_it_waits_for_a_lock(db, asking)
        with db.engine.begin() as elsewhere:  # a booking commits place 0 while the statement runs
            mine = "(SELECT id FROM callback_promises WHERE number = '+31640000007')"
            elsewhere.execute(text(f"UPDATE callback_places SET promise_id = NULL WHERE promise_id = {mine}"))
            elsewhere.execute(
                text(f"UPDATE callback_places SET promise_id = {mine} WHERE slot_id = :slot AND place = 0"),
                {"slot": ten},
            )
    finally:
        gate.execute(text("SELECT pg_advisory_unlock(424242)"))
        gate.close()
        asking.join(timeout=30)
    assert answers == [1]
