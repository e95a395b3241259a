"""Slots, offers and booking against a real database (SQLite by default, PostgreSQL via env)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy import text as text_sql
from sqlalchemy.orm import Session

from callbacks.booking import (
    book_callback,
    cancel_promise,
    close_promise_resolved_by_contact,
    move_promise,
    open_promise_for,
)
from callbacks.errors import NoSlotAvailable, SlotFull, UnusableNumber
from callbacks.models import CallbackPromise, CallbackSlot, PromiseState
from callbacks.offers import ensure_slots, offer_slots
from callbacks.places import set_capacity
from callbacks.promise import transition
from callbacks.rebalance import MovedPromise
from callbacks.reminders import due_reminders
from callbacks.replanning import ReplanCause, replan_queue
from callbacks.scheduling import ScheduleDial
from routing.models import Holiday, Shift
from telephony.models import SmsMessage
from telephony.outbox import pending_messages
from terugbel.clock import ManualClock
from terugbel.db import Database
from terugbel.unit_of_work import take_after_commit

AMS = ZoneInfo("Europe/Amsterdam")
JAN = "+31612345678"

# A 15-minute slot's dial moments run from its start to its last planned dial: its last dial start,
# 3:05 before its end, less the scheduling margin of half a minute.
SPAN = timedelta(minutes=15) - timedelta(minutes=3, seconds=35)


def local(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, d, hh, mm, tzinfo=AMS).astimezone(UTC)


def day_shift(d: int, start: int = 8, end: int = 21) -> tuple[datetime, datetime]:
    return local(d, start), local(d, end)


@pytest.fixture
def technisch(make_queue: Callable[..., Any], make_agent: Callable[..., Any]) -> Any:
    """Technical queue, 08:00–21:00 every day; 4 agents today → 60 × 0.3 ÷ 6 = 3 places a slot."""
    queue = make_queue("technisch")
    for i in range(4):
        make_agent(f"Agent {i}", f"+3161111000{i}", ("technisch",), shifts=[day_shift(23), day_shift(24)])
    return queue


def book_in(session: Session, queue: Any, now: datetime, number: str = JAN, **kwargs: Any) -> CallbackPromise:
    defaults = {"language": "nl", "timezone": "Europe/Amsterdam", "problem": "mijn modem knippert rood"}
    return book_callback(session, queue_id=queue.id, number=number, now=now, **{**defaults, **kwargs})


def book(db: Database, queue: Any, now: datetime, number: str = JAN, **kwargs: Any) -> CallbackPromise:
    with db.session() as session:
        return book_in(session, queue, now, number, **kwargs)


def slot_at(db: Database, queue: Any, start: datetime) -> CallbackSlot:
    with db.session() as session:
        return session.scalars(
            select(CallbackSlot).where(CallbackSlot.queue_id == queue.id, CallbackSlot.starts_at == start)
        ).one()


def test_capacity_comes_from_the_shifts_of_skilled_agents(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    queue = make_queue("facturen", default_handle_seconds=300)
    for i in range(3):
        make_agent(f"F{i}", f"+3161111100{i}", ("facturen",), shifts=[day_shift(24)])
    make_agent("Part-timer", "+31611112000", ("facturen",), shifts=[(local(24, 10), local(24, 10, 10))])
    make_agent("Other skill", "+31611112001", ("technisch",), shifts=[day_shift(24)])
    with db.session() as session:
        session.add(Holiday(queue_id=queue.id, day=datetime(2026, 11, 25).date(), name="Teamdag"))
    with db.session() as session:
        slots = ensure_slots(session, queue.id, local(24, 0), local(26, 0), clock.now())
        by_start = {s.starts_at: s.capacity for s in slots}
    assert by_start[local(24, 9)] == 2  # 3 × 15 = 45 × 0.3 = 13.5 ÷ 5 = 2.7
    assert by_start[local(24, 10)] == 3  # + 10 part-time minutes: 55 × 0.3 ÷ 5 = 3.3
    assert by_start[local(24, 8)] == 2
    assert not any(s.astimezone(AMS).day == 25 for s in by_start)  # the custom holiday
    assert min(by_start) == local(24, 8) and max(by_start) == local(24, 20, 45)


def test_story_3_offer_and_book_with_a_confirmation_sms(db: Database, technisch: Any, clock: ManualClock) -> None:
    clock.set(local(23, 14, 10))
    with db.session() as session:
        offers = offer_slots(session, queue_id=technisch.id, now=clock.now(), zone="Europe/Amsterdam")
    assert [(o.window_start, o.window_end) for o in offers] == [
        (local(23, 14, 30), local(23, 14, 45)),
        (local(23, 14, 45), local(23, 15)),
        (local(23, 15), local(23, 15, 15)),
    ]
    promise = book(db, technisch, clock.now(), slot_id=offers[0].slot_id)
    assert (promise.window_start, promise.window_end, promise.state) == (local(23, 14, 30), local(23, 14, 45), "booked")
    assert promise.planned_dial_at == local(23, 14, 30)
    assert slot_at(db, technisch, local(23, 14, 30)).booked == 1
    with db.session() as session:
        [sms] = pending_messages(session)
    assert sms.number == JAN and sms.purpose == "confirmation" and sms.promise_id == promise.id
    assert "vandaag tussen 14:30 en 14:45" in sms.body
    assert "+31 6 12345678" in sms.body
    assert "modem knippert rood" in sms.body
    assert "1 = ok, 2 = ander tijdstip, 3 = annuleren" in sms.body


def test_confirmation_in_english_in_the_callers_zone(db: Database, technisch: Any, clock: ManualClock) -> None:
    clock.set(local(23, 14, 10))
    book(db, technisch, clock.now(), number="+447911123456", language="en", timezone="Europe/London")
    with db.session() as session:
        [sms] = pending_messages(session)
    assert "today between 13:30 and 13:45" in sms.body  # 14:30 Amsterdam is 13:30 in London
    assert "1 = ok, 2 = other time, 3 = call off" in sms.body


def test_story_6_after_hours_near_a_requested_time(db: Database, technisch: Any, clock: ManualClock) -> None:
    clock.set(local(23, 21, 30))
    with db.session() as session:
        first = offer_slots(session, queue_id=technisch.id, now=clock.now(), zone="Europe/London")
        wished = offer_slots(session, queue_id=technisch.id, now=clock.now(), zone="Europe/London", near=local(24, 12))
    assert first[0].window_start == local(24, 8)  # the first slot of the next opening
    assert (wished[0].window_start, wished[0].window_end) == (local(24, 12), local(24, 12, 15))


def test_dial_times_spread_over_the_slot(db: Database, technisch: Any, clock: ManualClock) -> None:
    slot = None
    times = []
    for i in range(3):
        promise = book(db, technisch, clock.now(), number=f"+3161234500{i}", near=local(23, 11))
        slot = promise.slot_id if slot is None else slot
        assert promise.slot_id == slot
        times.append(promise.planned_dial_at)
    # Spread from the start to the last dial start (3:05 before the end): 11:55 in thirds.
    assert times == [local(23, 11) + k * (SPAN / 3) for k in range(3)]
    # The slot is full now: the next caller asking for 11:00 gets the nearest slot with room.
    assert book(db, technisch, clock.now(), number="+31612345009", near=local(23, 11)).window_start == local(23, 11, 15)
    with pytest.raises(SlotFull):
        book(db, technisch, clock.now(), number="+31612345010", slot_id=slot)


@contextmanager
def closed_at_the_first_take(db: Database, slots: str) -> Iterator[None]:
    """Close `slots` (an SQL condition) just before a booking first looks at a slot to claim a place.

    As if other bookings took the last places between the offer and the claim: on the booking's
    own connection, in its transaction, so it works alike on SQLite and PostgreSQL.
    """
    done: list[bool] = []
    claims = "SELECT callback_places.slot_id, callback_places.place"  # the claim, on both databases

    def close(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if not done and statement.startswith(claims):
            done.append(True)
            cursor.connection.cursor().execute(f"UPDATE callback_slots SET closed = true WHERE {slots}")

    event.listen(db.engine, "before_cursor_execute", close)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", close)
    assert done, "no booking took a place"


def test_a_place_gone_before_the_claim_moves_the_booking_to_the_next_offer(
    db: Database, technisch: Any, clock: ManualClock
) -> None:
    with db.session() as session:
        first, second = offer_slots(session, queue_id=technisch.id, now=clock.now(), zone="Europe/Amsterdam")[:2]
    with closed_at_the_first_take(db, f"id = {first.slot_id}"):
        promise = book(db, technisch, clock.now())
    assert (promise.slot_id, promise.window_start) == (second.slot_id, second.window_start)
    with db.session() as session:
        assert session.scalars(select(CallbackPromise.id)).all() == [promise.id]
        [sms] = pending_messages(session)
        assert sms.promise_id == promise.id and "tussen 09:30 en 09:45" in sms.body
    assert slot_at(db, technisch, first.window_start).booked == 0
    assert slot_at(db, technisch, second.window_start).booked == 1


def test_a_booking_that_gets_no_place_leaves_nothing_but_the_rest_of_its_transaction(
    db: Database, technisch: Any, clock: ManualClock
) -> None:
    from routing.models import Caller

    with closed_at_the_first_take(db, f"queue_id = {technisch.id}"), db.session() as session:
        session.add(Caller(number=JAN, name="Jan", created_at=clock.now()))
        with pytest.raises(NoSlotAvailable):
            book_callback(
                session, queue_id=technisch.id, number=JAN, language="nl", timezone="Europe/Amsterdam", now=clock.now()
            )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CallbackPromise)) == 0
        assert session.scalar(select(func.count()).select_from(SmsMessage)) == 0
        assert session.scalar(select(func.sum(CallbackSlot.booked))) == 0
        assert session.scalars(select(Caller.name)).all() == ["Jan"]  # the refusal is an answer, not an error


def test_booking_again_moves_the_open_promise(db: Database, technisch: Any, clock: ManualClock) -> None:
    first = book(db, technisch, clock.now(), near=local(23, 11))
    second = book(db, technisch, clock.now(), near=local(23, 15))
    with db.session() as session:
        old = session.get(CallbackPromise, first.id)
        assert old.state == "moved" and old.moved_to_id == second.id
        assert [t.to_state for t in old.transitions] == ["booked", "moved"]
        assert open_promise_for(session, JAN).id == second.id
        assert (
            session.scalar(select(func.count()).select_from(CallbackPromise).where(CallbackPromise.state == "booked"))
            == 1
        )
    assert slot_at(db, technisch, local(23, 11)).booked == 0
    assert slot_at(db, technisch, local(23, 15)).booked == 1


def test_booking_after_cancelling_in_the_same_transaction_books_anew(
    db: Database, technisch: Any, clock: ManualClock
) -> None:
    """The number lock does not flush (it must not wait holding a flush's row locks): a promise this
    transaction cancelled and has not flushed yet must still not be found open, nor refused as busy."""
    first = book(db, technisch, clock.now(), near=local(23, 11))
    later = slot_at(db, technisch, local(23, 15)).id
    with db.session() as session:
        cancelled = session.get(CallbackPromise, first.id)
        assert cancelled is not None
        transition(cancelled, PromiseState.CANCELLED, clock.now(), "caller cancelled")
        second = book_in(session, technisch, clock.now(), slot_id=later)  # no offer, so nothing flushed
    with db.session() as session:
        old = session.get(CallbackPromise, first.id)
        assert old is not None and (old.state, old.moved_to_id) == ("cancelled", None)
        assert open_promise_for(session, JAN).id == second.id


def test_offers_join_the_horizons_in_order_and_look_beyond_the_week_only_when_it_is_full(
    db: Database, technisch: Any, make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    december = local(30, 8) + timedelta(days=7)
    for i in range(2):  # two agents for a quarter of an hour: one place a slot
        make_agent(f"Saturday {i}", f"+3161111300{i}", ("technisch",), shifts=[day_shift(28, 8, 9)])
        make_agent(
            f"December {i}", f"+3161111310{i}", ("technisch",), shifts=[(december, december + timedelta(hours=1))]
        )
    clock.set(local(24, 20, 10))
    with db.session() as session:
        offers = offer_slots(session, queue_id=technisch.id, now=clock.now(), zone="Europe/Amsterdam", count=4)
        # Two places tonight (the first day), then Saturday (within the week); not the 7th of December.
        tonight, saturday = [local(24, 20, 30), local(24, 20, 45)], [local(28, 8), local(28, 8, 15)]
        assert [o.window_start for o in offers] == tonight + saturday
        again = offer_slots(session, queue_id=technisch.id, now=clock.now(), zone="Europe/Amsterdam", count=4)
        assert again == offers
        # The slots of the coming eight days exist, each once: tonight's two, seven whole days, and
        # the next day up to the same time tonight.
        starts = list(session.scalars(select(CallbackSlot.starts_at).where(CallbackSlot.queue_id == technisch.id)))
        assert len(set(starts)) == len(starts) == 2 + 7 * 52 + 50
        assert max(starts) == local(24, 20, 15) + timedelta(days=8)
    clock.set(local(29, 9))
    with db.session() as session:
        offers = offer_slots(session, queue_id=technisch.id, now=clock.now(), zone="Europe/Amsterdam")
    # Nobody works in the coming week: the first places after it.
    assert [o.window_start for o in offers][:1] == [december]


def test_closed_slot_and_override(db: Database, technisch: Any, clock: ManualClock) -> None:
    with db.session() as session:
        ensure_slots(session, technisch.id, local(23, 9), local(23, 12), clock.now())
    with db.session() as session:
        for slot in session.scalars(select(CallbackSlot).where(CallbackSlot.starts_at < local(23, 10))):
            slot.closed = True
        eleven = session.scalars(select(CallbackSlot).where(CallbackSlot.starts_at == local(23, 11))).one()
        eleven.capacity_override = 5
        set_capacity(session, eleven, 5)
    with db.session() as session:
        offers = offer_slots(session, queue_id=technisch.id, now=clock.now(), zone="Europe/Amsterdam")
        assert offers[0].window_start == local(23, 10)
        closed = session.scalars(select(CallbackSlot).where(CallbackSlot.starts_at == local(23, 9, 30))).one()
        with pytest.raises(SlotFull):
            book_callback(
                session,
                queue_id=technisch.id,
                number=JAN,
                language="nl",
                timezone="Europe/Amsterdam",
                now=clock.now(),
                slot_id=closed.id,
            )
        # The override survives staffing: ensure_slots does not lower it back to 3.
        ensure_slots(session, technisch.id, local(23, 9), local(23, 12), clock.now(), refresh=True)
    assert slot_at(db, technisch, local(23, 11)).capacity == 5


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("12345", "cb_number_invalid"),
        ("not a number", "cb_number_invalid"),
        ("+31201234567", "cb_number_not_mobile"),  # a landline cannot get the SMS
        ("09001234567", "cb_number_premium"),
    ],
)
def test_unusable_numbers_are_refused_and_never_stored(
    db: Database, technisch: Any, clock: ManualClock, number: str, reason: str
) -> None:
    with pytest.raises(UnusableNumber) as refused:
        book(db, technisch, clock.now(), number=number)
    assert refused.value.reason == reason
    assert refused.value.message("nl") and refused.value.message("en") != refused.value.message("nl")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CallbackPromise)) == 0
        assert session.scalar(select(func.count()).select_from(SmsMessage)) == 0


def test_no_staff_no_offer(db: Database, make_queue: Callable[..., Any], clock: ManualClock) -> None:
    queue = make_queue("leeg")
    with db.session() as session:
        assert offer_slots(session, queue_id=queue.id, now=clock.now(), zone="Europe/Amsterdam") == []
    with pytest.raises(NoSlotAvailable):
        book(db, queue, clock.now())


def test_cancel_and_move_free_their_place(db: Database, technisch: Any, clock: ManualClock) -> None:
    promise = book(db, technisch, clock.now(), near=local(23, 11))
    with db.session() as session:
        moved = move_promise(session, promise.id, clock.now(), near=local(23, 16))
    assert moved.window_start == local(23, 16) and slot_at(db, technisch, local(23, 11)).booked == 0
    with db.session() as session:
        cancelled = cancel_promise(session, moved.id, clock.now(), "cancelled by API", notify=True)
        assert cancelled.state == "cancelled" and cancelled.ended_at == clock.now()
    assert slot_at(db, technisch, local(23, 16)).booked == 0
    with db.session() as session:
        purposes = [m.purpose for m in pending_messages(session)]
    assert purposes == ["confirmation", "confirmation", "cancelled"]


def test_a_lower_capacity_renumbers_the_places_that_still_fit(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    """Four places, the first two cancelled, capacity down to two: the last two keep their window,
    take places 0 and 1 with their moments, and the slot is full; nobody is moved."""
    queue = make_queue("facturen", default_handle_seconds=300)
    make_agent("F", "+31611111000", ("facturen",), shifts=[day_shift(24, 8, 17)])
    nine = slot_at_start(db, queue, local(24, 9), clock.now())
    with db.session() as session:
        session.get(CallbackSlot, nine).capacity_override = 4
        replan_nine(session, queue, clock.now())
    promises = [book(db, queue, clock.now(), number=f"+3161234570{i}", slot_id=nine) for i in range(4)]
    assert [p.place for p in promises] == [0, 1, 2, 3]
    assert [p.planned_dial_at for p in promises] == [local(24, 9) + k * (SPAN / 4) for k in range(4)]
    with db.session() as session:
        for promise in promises[:2]:
            cancel_promise(session, promise.id, clock.now(), "cancelled by API")
    with db.session() as session:
        session.get(CallbackSlot, nine).capacity_override = 2
        moved = replan_nine(session, queue, clock.now())
        followups = scheduled_dials(session)
    assert moved == []
    with db.session() as session:
        kept = [session.get(CallbackPromise, p.id) for p in promises[2:]]
        assert [(p.state, p.place, p.planned_dial_at) for p in kept] == [
            ("booked", 0, local(24, 9)),
            ("booked", 1, local(24, 9) + SPAN / 2),
        ]
    assert followups == {p.id: p.planned_dial_at for p in kept}  # the dial jobs follow
    assert slot_at(db, queue, local(24, 9)).booked == 2
    with pytest.raises(SlotFull):
        book(db, queue, clock.now(), number="+31612345799", slot_id=nine)


@pytest.mark.parametrize("change", ["override", "staffing"])
def test_a_changed_capacity_gives_the_waiting_promises_their_place_s_new_moment(
    change: str, db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    """Three places (every third of the span), then six (every sixth), by a supervisor's override or by three
    more agents on shift: the three booked before move to the new moments of their places, so none
    shares a moment with the three booked after."""
    queue = make_queue("facturen", default_handle_seconds=300)
    for i in range(4):  # 4 agents × 15 min × 0.3 ÷ 5 min = 3.6 → 3 places
        make_agent(f"F{i}", f"+3161111100{i}", ("facturen",), shifts=[day_shift(24, 8, 17)])
    nine = slot_at_start(db, queue, local(24, 9), clock.now())
    before = [book(db, queue, clock.now(), number=f"+3161234570{i}", slot_id=nine) for i in range(3)]
    assert [p.planned_dial_at for p in before] == [local(24, 9) + k * (SPAN / 3) for k in range(3)]
    if change == "staffing":
        for i in range(4, 7):  # 7 agents: 6.3 → 6 places
            make_agent(f"F{i}", f"+3161111100{i}", ("facturen",), shifts=[day_shift(24, 8, 17)])
    with db.session() as session:
        if change == "override":
            session.get(CallbackSlot, nine).capacity_override = 6
            replan_nine(session, queue, clock.now())
        else:
            ensure_slots(session, queue.id, local(24, 9), local(24, 9, 15), clock.now(), refresh=True)
        followups = scheduled_dials(session)
    assert slot_at(db, queue, local(24, 9)).capacity == 6
    after = [book(db, queue, clock.now(), number=f"+3161234571{i}", slot_id=nine) for i in range(3)]
    with db.session() as session:
        promises = [session.get(CallbackPromise, p.id) for p in before + after]
        moments = [(p.place, p.planned_dial_at) for p in promises if p is not None]
    assert moments == [(k, local(24, 9) + k * (SPAN / 6)) for k in range(6)]
    assert followups == {p.id: p.planned_dial_at for p in promises[1:3] if p is not None}


def replan_nine(session: Session, queue: Any, now: datetime) -> list[MovedPromise]:
    """Re-plan the 09:00 slot of the 24th after its override changed."""
    return replan_queue(
        session, queue.id, now=now, cause=ReplanCause.SLOT_CAPACITY, start=local(24, 9), end=local(24, 9, 15)
    )


def scheduled_dials(session: Session) -> dict[int, datetime]:
    """The dial jobs the transaction will schedule once it commits: promise id → dial moment."""
    actions = take_after_commit(session).actions()
    return {action.promise_id: action.at for action in actions if isinstance(action, ScheduleDial)}


def slot_at_start(db: Database, queue: Any, start: datetime, now: datetime) -> int:
    with db.session() as session:
        [slot] = ensure_slots(session, queue.id, start, start + timedelta(minutes=1), now)
        return slot.id


def test_story_5_capacity_drop_moves_the_latest_booking_at_once(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    queue = make_queue("facturen", default_handle_seconds=300)
    agents = [
        make_agent(f"F{i}", f"+3161111100{i}", ("facturen",), shifts=[day_shift(24, 8, 17)]) for i in range(4)
    ]  # 60 × 0.3 ÷ 5 = 3.6 → 3 places a slot
    clock.set(local(23, 16))
    promises = []
    for i in range(3):
        clock.advance(minutes=1)
        promises.append(book(db, queue, clock.now(), number=f"+3161234560{i}", near=local(24, 9)))
    assert {p.window_start for p in promises} == {local(24, 9)}

    clock.set(local(23, 20))  # the evening before: Sanne calls in sick
    with db.session() as session:
        session.execute(delete(Shift).where(Shift.agent_id == agents[0].id))
    with db.session() as session:
        moved = replan_queue(
            session, queue.id, now=clock.now(), cause=ReplanCause.SHIFT_REMOVED, start=local(24, 0), end=local(25, 0)
        )
    assert [m.old_id for m in moved] == [promises[2].id]  # the latest-booked moves
    with db.session() as session:
        assert slot_at(db, queue, local(24, 9)).capacity == 2
        assert slot_at(db, queue, local(24, 9)).booked == 2
        new = session.get(CallbackPromise, moved[0].new_id)
        assert (new.window_start, new.window_end) == (local(24, 9, 15), local(24, 9, 30))
        assert new.moved_by_us and new.state == "booked" and new.number == promises[2].number
        assert session.get(CallbackPromise, promises[2].id).state == "moved"
        [sms] = [m for m in pending_messages(session) if m.purpose == "moved_by_us"]
    assert sms.number == promises[2].number and sms.created_at == clock.now()
    assert "niet morgen tussen 09:00 en 09:15" in sms.body and "morgen tussen 09:15 en 09:30" in sms.body


def test_capacity_drop_with_nowhere_to_go_tells_the_caller(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    queue = make_queue("klein", default_handle_seconds=60, hours=(9, 10))
    agent = make_agent("Solo", "+31611110009", ("klein",), shifts=[(local(24, 9), local(24, 9, 15))])
    promise = book(db, queue, clock.now(), near=local(24, 9))  # 15 × 0.3 ÷ 1 = 4 places, one slot
    with db.session() as session:
        session.execute(delete(Shift).where(Shift.agent_id == agent.id))
    with db.session() as session:
        moved = replan_queue(
            session, queue.id, now=clock.now(), cause=ReplanCause.SHIFT_REMOVED, start=local(24, 0), end=local(25, 0)
        )
        assert moved[0].new_id is None
        assert session.get(CallbackPromise, promise.id).state == PromiseState.MISSED.value
        sms = pending_messages(session)[-1]
    # No slot with room in the three weeks offers search: the text names the next opening, its first slot.
    assert sms.purpose == "cannot_keep"
    assert "morgen tussen 09:00 en 09:15" in sms.body
    assert "Onze eerstvolgende opening is dinsdag 15 december tussen 09:00 en 09:15" in sms.body


def test_a_contact_that_solved_it_resolves_the_promise_whatever_its_intent(
    db: Database, technisch: Any, clock: ManualClock, make_intent: Callable[..., Any]
) -> None:
    modem = make_intent("modem", technisch)
    promise = book(db, technisch, clock.now(), near=local(23, 15), intent_id=modem.id)
    with db.session() as session:
        # The caller got through about another matter (or none the menu knew): the promise is moot all the same.
        closed = close_promise_resolved_by_contact(session, JAN, clock.now())
        assert closed is not None and closed.id == promise.id and closed.state == PromiseState.RESOLVED.value
        assert closed.reason == "resolved by another contact" and closed.place is None
        assert [t.to_state for t in closed.transitions] == ["booked", "resolved"]
        resolved = [m for m in pending_messages(session) if m.purpose == "resolved"]
        assert len(resolved) == 1 and "15:00" in resolved[0].body
        session.commit()
    assert slot_at(db, technisch, local(23, 15)).booked == 0
    with db.session() as session:
        assert close_promise_resolved_by_contact(session, JAN, clock.now()) is None  # nothing open any more


def test_reminders_only_for_promises_booked_well_ahead(db: Database, technisch: Any, clock: ManualClock) -> None:
    far = book(db, technisch, clock.now(), near=local(23, 15))
    near = book(db, technisch, clock.now() + timedelta(hours=5), number="+31612345671", near=local(23, 15))
    clock.set(local(23, 14, 40))
    with db.session() as session:
        reminders = due_reminders(session, clock.now())
        assert [m.promise_id for m in reminders] == [far.id]
        assert "vandaag tussen 15:00 en 15:15" in reminders[0].body
        assert near.id not in {m.promise_id for m in reminders}
    with db.session() as session:
        assert due_reminders(session, clock.now()) == []  # once only


def test_an_agent_of_two_queues_gives_each_half_their_time(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    facturen = make_queue("facturen", default_handle_seconds=60)
    algemeen = make_queue("algemeen", default_handle_seconds=60)
    make_queue("leeg", default_handle_seconds=60)  # a queue nobody serves changes no one's part
    make_agent("Beide", "+31611112002", ("facturen", "algemeen", "geen-wachtrij"), shifts=[day_shift(24)])
    make_agent("Alleen", "+31611112003", ("facturen",), shifts=[day_shift(24)])
    with db.session() as session:
        [own] = ensure_slots(session, facturen.id, local(24, 9), local(24, 9, 15), clock.now())
        [shared] = ensure_slots(session, algemeen.id, local(24, 9), local(24, 9, 15), clock.now())
    assert own.capacity == 6  # (15 + 7.5) × 0.3 ÷ 1 = 6.75
    assert shared.capacity == 2  # 7.5 × 0.3 = 2.25: both queues together promise no more than the two agents


def test_capacity_uses_the_measured_handle_time(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    from routing.models import Contact

    queue = make_queue("facturen")  # default 6 minutes: one agent gives 4.5 ÷ 6 → 0 places
    make_agent("Solo", "+31611110009", ("facturen",), shifts=[day_shift(24)])
    with db.session() as session:
        for i in range(20):  # measured: two minutes a contact
            start = local(23, 8) + timedelta(minutes=5 * i)
            session.add(
                Contact(
                    channel="call", queue_id=queue.id, outcome="agent", started_at=start,
                    routed_at=start, ended_at=start + timedelta(minutes=2),
                )
            )  # fmt: skip
    with db.session() as session:
        [slot] = ensure_slots(session, queue.id, local(24, 9), local(24, 9, 15), clock.now())
    assert slot.capacity == 2  # 15 × 0.3 = 4.5 agent-minutes ÷ 2


def test_a_landline_may_be_called_back_but_gets_no_sms(db: Database, technisch: Any, clock: ManualClock) -> None:
    promise = book(db, technisch, clock.now(), number="+31201234567", needs_sms=False)
    assert promise.state == "booked" and promise.number == "+31201234567"
    with db.session() as session:
        assert pending_messages(session) == []
        cancel_promise(session, promise.id, clock.now(), "test", notify=True)
        assert pending_messages(session) == []


def test_a_new_promise_is_written_with_its_transition_and_text_and_needs_no_reload(
    db: Database, technisch: Any, clock: ManualClock
) -> None:
    """The promise, its first transition and its text are written by one flush: nothing is read again."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with db.session() as session:
        promise = book_in(session, technisch, clock.now())
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            [first] = promise.transitions
            [text] = promise.messages
            seen = (promise.state, promise.attempts, promise.max_attempts, promise.reason, promise.moved_by_us)
            linked = (first.promise_id, first.from_state, first.to_state, text.promise_id, text.status)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert inspect(promise).persistent and inspect(first).persistent and inspect(text).persistent
        promise_id, first_id, text_id = promise.id, first.id, text.id
    assert statements == [], "reading the new promise went back to the database"
    assert seen == ("booked", 0, 3, None, False)
    assert linked == (promise_id, None, "booked", promise_id, "pending")
    with db.session() as session:
        stored = session.get(CallbackPromise, promise_id)
        assert stored is not None and (stored.state, stored.attempts, stored.place) == ("booked", 0, 0)
        assert [t.id for t in stored.transitions] == [first_id]
        assert [m.id for m in stored.messages] == [text_id]
        assert "mijn modem knippert rood" in stored.messages[0].body


def test_a_booking_skips_the_places_others_are_claiming_and_looks_further(
    db: Database, technisch: Any, clock: ManualClock
) -> None:
    """Every free place of the offered slots is being claimed by bookings in flight (PostgreSQL)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("claims in flight are row locks of other transactions: SQLite serialises every writer")
    with db.session() as session:
        offered = offer_slots(session, queue_id=technisch.id, now=clock.now(), zone="Europe/Amsterdam", count=8)
    with db.engine.connect() as in_flight, in_flight.begin():
        claim = "SELECT count(*) FROM (SELECT 1 FROM callback_places WHERE slot_id = ANY(:slots) FOR UPDATE) AS held"
        in_flight.execute(text_sql(claim), {"slots": [offer.slot_id for offer in offered]})
        promise = book(db, technisch, clock.now())
    assert promise.slot_id not in {offer.slot_id for offer in offered}
    assert promise.window_start > max(offer.window_start for offer in offered)
