"""The SMS conversation about a promise, and the outbox that sends each text once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from callbacks.booking import book_callback, open_promise_for
from callbacks.models import CallbackPromise, CallbackSlot
from callbacks.sms_conversation import handle_sms_reply
from telephony.models import SmsMessage, SmsOptOut
from telephony.outbox import PENDING, SENT, pending_messages, queue_sms, send_pending, send_queued_sms
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.db import Database
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work

AMS = ZoneInfo("Europe/Amsterdam")
JAN = "+31612345678"


def local(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, d, hh, mm, tzinfo=AMS).astimezone(UTC)


@pytest.fixture
def technisch(make_queue: Callable[..., Any], make_agent: Callable[..., Any]) -> Any:
    queue = make_queue("technisch")
    for i in range(4):
        make_agent(
            f"Agent {i}", f"+3161111000{i}", ("technisch",), shifts=[(local(d, 8), local(d, 21)) for d in (23, 24)]
        )
    return queue


@pytest.fixture
def promise(db: Database, technisch: Any, clock: ManualClock) -> CallbackPromise:
    clock.set(local(23, 14, 10))
    with db.session() as session:
        return book_callback(
            session,
            queue_id=technisch.id,
            number=JAN,
            language="nl",
            timezone="Europe/Amsterdam",
            now=clock.now(),
            problem="modem knippert rood",
        )


_sids = iter(range(10_000))


def reply(db: Database, clock: ManualClock, body: str, number: str = JAN, sid: str | None = None) -> str:
    with db.session() as session:
        return handle_sms_reply(
            session,
            from_number=number,
            body=body,
            message_sid=sid or f"SM{next(_sids):032d}",
            now=clock.now(),
        )


def current(db: Database) -> CallbackPromise | None:
    with db.session() as session:
        return open_promise_for(session, JAN)


def test_1_confirms(db: Database, clock: ManualClock, promise: CallbackPromise) -> None:
    answer = reply(db, clock, " OK ")
    assert answer == "Dank u. We bellen u vandaag tussen 14:30 en 14:45 op +31 6 12345678."
    assert current(db).id == promise.id


def test_2_offers_three_windows_and_a_digit_picks_one(
    db: Database, clock: ManualClock, promise: CallbackPromise
) -> None:
    offer = reply(db, clock, "2")
    assert "1 = vandaag tussen 14:45 en 15:00" in offer
    assert "2 = vandaag tussen 15:00 en 15:15" in offer
    assert "3 = vandaag tussen 15:15 en 15:30" in offer
    answer = reply(db, clock, "2")
    assert answer.startswith("Verzet: we bellen u nu vandaag tussen 15:00 en 15:15")
    moved = current(db)
    assert moved.id != promise.id and moved.window_start == local(23, 15) and moved.source == "sms"
    with db.session() as session:
        assert session.get(CallbackPromise, promise.id).state == "moved"
        booked = dict(session.execute(select(CallbackSlot.starts_at, CallbackSlot.booked)).all())
    assert booked[local(23, 14, 30)] == 0 and booked[local(23, 15)] == 1
    # The offer is used up: "1" now means "ok" again.
    assert reply(db, clock, "1").startswith("Dank u.")


def test_a_time_in_words_moves_to_the_nearest_window(
    db: Database, clock: ManualClock, promise: CallbackPromise
) -> None:
    answer = reply(db, clock, "vandaag om half vijf")
    assert "vandaag tussen 16:30 en 16:45" in answer
    assert current(db).window_start == local(23, 16, 30)


def test_3_cancels_and_confirms(db: Database, clock: ManualClock, promise: CallbackPromise) -> None:
    assert reply(db, clock, "Annuleren") == (
        "Uw terugbelafspraak van vandaag tussen 14:30 en 14:45 is geannuleerd. U kunt ons altijd opnieuw bellen."
    )
    assert current(db) is None
    with db.session() as session:
        assert session.get(CallbackPromise, promise.id).state == "cancelled"


def test_gibberish_gets_one_short_help_text(db: Database, clock: ManualClock, promise: CallbackPromise) -> None:
    answer = reply(db, clock, "asdfgh ???")
    assert answer == "Antwoord 1 = ok, 2 = ander tijdstip, 3 = annuleren. We bellen u vandaag tussen 14:30 en 14:45."
    assert current(db).id == promise.id


def test_unknown_sender_gets_help_in_their_language(db: Database, clock: ManualClock, promise: CallbackPromise) -> None:
    assert reply(db, clock, "1", number="+31687654321").startswith("Voor dit nummer staat geen terugbelafspraak")
    assert reply(db, clock, "1", number="+447911123456").startswith("There is no callback booked")
    assert reply(db, clock, "1", number="anonymous").startswith("Voor dit nummer")


def test_a_message_sid_seen_twice_acts_once(db: Database, clock: ManualClock, promise: CallbackPromise) -> None:
    first = reply(db, clock, "2", sid="SM" + "a" * 32)
    again = reply(db, clock, "2", sid="SM" + "a" * 32)
    assert again == first
    with db.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(SmsMessage).where(SmsMessage.direction == "inbound")) == 1
        )
    # Still the offer of the first "2": "3" picks its third window, not "cancel".
    assert "15:15" in reply(db, clock, "3")


def test_english_conversation(db: Database, technisch: Any, clock: ManualClock) -> None:
    clock.set(local(23, 14, 10))
    number = "+447911123456"
    with db.session() as session:
        book_callback(
            session, queue_id=technisch.id, number=number, language="en", timezone="Europe/London", now=clock.now()
        )
    assert "1 = today between 13:45 and 14:00" in reply(db, clock, "other time", number=number)
    # Story 6's words by SMS: 11:00 in London is 12:00 in the queue's Amsterdam hours.
    assert reply(db, clock, "tomorrow at eleven", number=number).startswith(
        "Moved: we will now call you tomorrow between 11:00 and 11:15 on +44 7911 123456."
    )
    # CANCEL alone is a carrier keyword: the number opts out of texts, the callback stays.
    assert reply(db, clock, "CANCEL", number=number) == ""
    with db.session() as session:
        assert session.get(SmsOptOut, number) is not None
        assert open_promise_for(session, number) is not None
    assert reply(db, clock, "call it off please", number=number).startswith("Your callback")


# --- the outbox ----------------------------------------------------------------------------------


def test_outbox_sends_once_with_the_sid(runtime: Runtime, simulator: Simulator, clock: ManualClock) -> None:
    with runtime.db.session() as session:
        message = queue_sms(session, to=JAN, body="Test", purpose="test", now=clock.now())
    assert send_queued_sms(runtime, message.id) == SENT
    assert send_queued_sms(runtime, message.id) == SENT  # already sent: not again
    sent = [m for m in simulator.sent_messages() if m.to == JAN]
    assert len(sent) == 1 and sent[0].body == "Test"
    with runtime.db.session() as session:
        stored = session.get(SmsMessage, message.id)
        assert (stored.status, stored.sid) == (SENT, sent[0].sid)
        assert pending_messages(session) == []


def test_retryable_error_leaves_it_pending(runtime: Runtime, simulator: Simulator, clock: ManualClock) -> None:
    with runtime.db.session() as session:
        message = queue_sms(session, to=JAN, body="Test", purpose="test", now=clock.now())
    simulator.faults.rate_limit_next(1)
    assert send_queued_sms(runtime, message.id) == PENDING
    assert simulator.sent_messages() == []
    assert send_pending(runtime) == {message.id: SENT}
    assert len(simulator.sent_messages()) == 1


def test_booking_session_sends_the_confirmation_after_commit(
    runtime: Runtime, simulator: Simulator, technisch: Any, clock: ManualClock
) -> None:
    clock.set(local(23, 14, 10))
    with unit_of_work(runtime) as session:
        book_callback(
            session, queue_id=technisch.id, number=JAN, language="nl", timezone="Europe/Amsterdam", now=clock.now()
        )
    send_pending(runtime)
    [sms] = simulator.sent_messages()
    assert sms.to == JAN and "vandaag tussen 14:30 en 14:45" in sms.body


def test_a_picked_window_taken_meanwhile_gets_a_fresh_offer(
    db: Database, clock: ManualClock, promise: CallbackPromise
) -> None:
    assert "1 = vandaag tussen 14:45 en 15:00" in reply(db, clock, "2")
    with db.session() as session:  # a supervisor closes 14:45 before the caller answers
        session.scalars(select(CallbackSlot).where(CallbackSlot.starts_at == local(23, 14, 45))).one().closed = True
    answer = reply(db, clock, "1")
    assert answer.startswith("Kies een nieuw tijdstip: 1 = vandaag tussen 15:00 en 15:15")
    assert current(db).id == promise.id


def test_the_reconciler_texts_a_reminder_to_promises_booked_well_ahead(
    runtime: Runtime, simulator: Simulator, technisch: Any, clock: ManualClock
) -> None:
    """Every worker reconciles every 30 seconds: that is what sends the reminders as they come due."""
    from callbacks.reconcile import reconcile

    with unit_of_work(runtime) as session:
        book_callback(
            session, queue_id=technisch.id, number=JAN, language="nl", timezone="Europe/Amsterdam",
            now=clock.now(), near=local(23, 16),
        )  # fmt: skip
    clock.set(local(23, 15, 20))
    assert reconcile(runtime).reminders == 0  # not yet: the window starts in 40 minutes
    clock.set(local(23, 15, 40))
    assert reconcile(runtime).reminders == 1
    assert reconcile(runtime).reminders == 0
    send_pending(runtime)
    bodies = [m.body for m in simulator.sent_messages()]
    assert bodies[-1].startswith("Herinnering: we bellen u vandaag tussen 16:00 en 16:15")


def test_the_reconciler_hands_a_text_whose_job_was_lost_to_the_sms_queue_again(
    runtime: Runtime, simulator: Simulator, clock: ManualClock
) -> None:
    from callbacks.reconcile import reconcile
    from terugbel.redis_conn import SMS_QUEUE, queue

    with runtime.db.session() as session:  # committed, then the process died before enqueuing
        lost = queue_sms(session, to=JAN, body="Bevestiging", purpose="confirmation", now=clock.now())
    clock.advance(seconds=30)
    assert reconcile(runtime).sms == []  # its job may still be on the way
    clock.advance(seconds=60)
    assert reconcile(runtime).sms == [lost.id]
    [job] = queue(runtime.redis, SMS_QUEUE).jobs
    assert (job.id, job.func_name, job.args) == (f"sms-{lost.id}", "telephony.outbox.send_sms", (lost.id,))
    assert send_queued_sms(runtime, lost.id) == SENT  # what that job does
    assert reconcile(runtime).sms == []
    assert [m.body for m in simulator.sent_messages()] == ["Bevestiging"]


def test_a_text_refused_for_now_is_tried_again_by_the_reconciler(
    runtime: Runtime, simulator: Simulator, clock: ManualClock
) -> None:
    from callbacks.reconcile import reconcile

    with runtime.db.session() as session:
        message = queue_sms(session, to=JAN, body="Herinnering", purpose="reminder", now=clock.now())
    simulator.faults.rate_limit_next(1)
    assert send_queued_sms(runtime, message.id) == PENDING
    clock.advance(minutes=2)
    assert reconcile(runtime).sms == [message.id]
    assert send_queued_sms(runtime, message.id) == SENT
    assert len(simulator.sent_messages()) == 1


def test_a_text_unsent_for_hours_is_given_up_not_sent_late(
    runtime: Runtime, simulator: Simulator, clock: ManualClock
) -> None:
    from callbacks.reconcile import reconcile
    from telephony.outbox import FAILED

    with runtime.db.session() as session:
        message = queue_sms(session, to=JAN, body="Bevestiging", purpose="confirmation", now=clock.now())
    clock.advance(hours=7)
    assert reconcile(runtime).sms == []
    with runtime.db.session() as session:
        assert session.get(SmsMessage, message.id).status == FAILED
    assert simulator.sent_messages() == []


def _claimed_by_a_sender_that_then_died(runtime: Runtime, clock: ManualClock, body: str) -> SmsMessage:
    from sqlalchemy import update

    from telephony.outbox import SENDING

    with runtime.db.session() as session:
        message = queue_sms(session, to=JAN, body=body, purpose="confirmation", now=clock.now())
        session.execute(update(SmsMessage).values(status=SENDING, claimed_at=clock.now()))
    return message


def test_a_text_whose_sender_died_before_the_network_took_it_is_sent_once(
    runtime: Runtime, simulator: Simulator, clock: ManualClock
) -> None:
    from callbacks.reconcile import reconcile

    message = _claimed_by_a_sender_that_then_died(runtime, clock, "Bevestiging")
    clock.advance(minutes=5)
    assert reconcile(runtime).sms == []  # it may still be on its way
    clock.advance(minutes=6)
    assert reconcile(runtime).sms == [message.id]  # the network never had it: pending again, and queued
    assert send_queued_sms(runtime, message.id) == SENT
    assert [m.body for m in simulator.sent_messages()] == ["Bevestiging"]


def test_a_text_whose_sender_died_after_the_network_took_it_is_not_sent_again(
    runtime: Runtime, simulator: Simulator, clock: ManualClock
) -> None:
    from callbacks.reconcile import reconcile

    message = _claimed_by_a_sender_that_then_died(runtime, clock, "Bevestiging")
    runtime.telephony.send_sms(JAN, "Bevestiging")  # went out; the answer was never written down
    clock.advance(minutes=11)
    assert reconcile(runtime).sms == []
    [sent] = simulator.sent_messages()
    with runtime.db.session() as session:
        stored = session.get(SmsMessage, message.id)
        assert (stored.status, stored.sid) == (SENT, sent.sid)


def december(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 12, d, hh, mm, tzinfo=AMS).astimezone(UTC)


@pytest.fixture
def missed_with_opening(
    db: Database, clock: ManualClock, make_queue: Callable[..., Any], make_agent: Callable[..., Any]
) -> tuple[Any, Any, CallbackPromise]:
    """A promise we could not keep, with no time free in the coming three weeks: its text offers our next opening."""
    from callbacks.replanning import ReplanCause, replan_queue
    from routing.models import Shift

    clock.set(local(23, 14, 10))
    queue = make_queue("klein", default_handle_seconds=60, hours=(9, 10))
    agent = make_agent("Solo", "+31611110009", ("klein",), shifts=[(local(24, 9), local(24, 9, 15))])
    with db.session() as session:
        booked = book_callback(
            session, queue_id=queue.id, number=JAN, language="nl", timezone="Europe/Amsterdam", now=clock.now()
        )
    with db.session() as session:
        session.query(Shift).filter(Shift.agent_id == agent.id).delete()
        replan_queue(
            session, queue.id, now=clock.now(), cause=ReplanCause.SHIFT_REMOVED, start=local(24, 0), end=local(25, 0)
        )
        [text] = [m for m in pending_messages(session) if m.purpose == "cannot_keep"]
    assert "Onze eerstvolgende opening is dinsdag 15 december tussen 09:00 en 09:15" in text.body
    assert "antwoord 1 en we bellen u dan" in text.body
    return queue, agent, booked


def staff_the_opening(db: Database, clock: ManualClock, queue: Any, agent: Any) -> None:
    """A shift planned later for the morning of our next opening (the shifts API re-plans like this)."""
    from callbacks.offers import ensure_slots
    from routing.models import Shift

    with db.session() as session:
        session.add(Shift(agent_id=agent.id, starts_at=december(15, 9), ends_at=december(15, 10)))
        session.flush()
        ensure_slots(session, queue.id, december(15, 0), december(16, 0), clock.now(), refresh=True)


def test_1_books_the_next_opening_a_missed_promise_offered(
    db: Database, clock: ManualClock, missed_with_opening: tuple[Any, Any, CallbackPromise]
) -> None:
    queue, agent, missed = missed_with_opening
    clock.set(local(24, 8))
    staff_the_opening(db, clock, queue, agent)
    answer = reply(db, clock, "1")
    assert answer == (
        "Geboekt: we bellen u dinsdag 15 december tussen 09:00 en 09:15 op +31 6 12345678. "
        "Antwoord 1 = ok, 2 = ander tijdstip, 3 = annuleren."
    )
    new = current(db)
    assert new is not None and (new.window_start, new.window_end) == (december(15, 9), december(15, 9, 15))
    assert (new.source, new.queue_id, new.state) == ("sms", queue.id, "booked")
    with db.session() as session:
        old = session.get(CallbackPromise, missed.id)
        assert old.state == "missed" and old.moved_to_id == new.id and not old.sms_offer
    # The next 1 is about the new promise: it confirms, and books nothing more.
    assert reply(db, clock, "ok").startswith("Dank u. We bellen u dinsdag 15 december tussen 09:00 en 09:15")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CallbackPromise)) == 2


def test_the_offered_opening_taken_meanwhile_names_it_and_books_nothing(
    db: Database, clock: ManualClock, missed_with_opening: tuple[Any, Any, CallbackPromise]
) -> None:
    clock.set(local(24, 8))  # nobody is on shift then yet: that slot has no room
    answer = reply(db, clock, "ja graag")
    assert answer == (
        "Dat tijdstip is net vergeven en er is nog geen ander tijdstip vrij. Onze eerstvolgende opening is "
        "dinsdag 15 december tussen 09:00 en 09:15: bel ons dan, dan helpen we u direct."
    )
    assert current(db) is None
    # The offer is spent: a second reply is an unknown sender's.
    assert reply(db, clock, "1").startswith("Voor dit nummer staat geen terugbelafspraak")


def test_3_declines_the_offered_opening_and_other_words_repeat_the_offer(
    db: Database, clock: ManualClock, missed_with_opening: tuple[Any, Any, CallbackPromise]
) -> None:
    assert reply(db, clock, "wat?") == (
        "Antwoord 1 en we bellen u dinsdag 15 december tussen 09:00 en 09:15, "
        "of 3 als u het gesprek niet meer nodig hebt."
    )
    assert reply(db, clock, "3") == "Goed: we bellen u niet. U kunt ons altijd opnieuw bellen."
    assert current(db) is None
    with db.session() as session:
        assert not session.get(CallbackPromise, missed_with_opening[2].id).sms_offer
