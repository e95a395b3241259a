"""SMS conversations about a promise, end to end: the simulated network texts the app over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from callbacks.booking import book_callback
from callbacks.models import CallbackPromise
from telephony.opt_out import Keyword, keyword_of
from telephony.outbox import send_pending
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work

AMS = ZoneInfo("Europe/Amsterdam")
JAN = "+31612345678"
EMMA = "+447911123456"


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


def book(runtime: Runtime, queue: Any, number: str = JAN, language: str = "nl", zone: str = "Europe/Amsterdam") -> None:
    with unit_of_work(runtime) as session:
        book_callback(
            session,
            queue_id=queue.id,
            number=number,
            language=language,
            timezone=zone,
            now=runtime.clock.now(),
            problem="modem knippert rood",
        )
    send_pending(runtime)


def texts_to(sim: Simulator, number: str) -> list[str]:
    return [m.body for m in sim.sent_messages() if m.to == number]


def say(sim: Simulator, number: str, body: str) -> str:
    """Text the app from `number`; return its reply (the TwiML <Message> the network sent back)."""
    before = len(texts_to(sim, number))
    sim.send_inbound_sms(number, body=body)
    replies = texts_to(sim, number)[before:]
    assert len(replies) == 1, replies
    return replies[0]


def open_promises(runtime: Runtime, number: str) -> list[CallbackPromise]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(CallbackPromise).where(
                    CallbackPromise.number == number, CallbackPromise.state.in_(["booked", "dialling"])
                )
            )
        )


def test_story_3_confirmation_then_keep(sim: Simulator, runtime: Runtime, technisch: Any, clock: ManualClock) -> None:
    clock.set(local(23, 14, 10))
    book(runtime, technisch)
    [confirmation] = texts_to(sim, JAN)
    assert "vandaag tussen 14:30 en 14:45" in confirmation and "+31 6 12345678" in confirmation
    assert "modem knippert rood" in confirmation and "1 = ok, 2 = ander tijdstip, 3 = annuleren" in confirmation
    assert say(sim, JAN, "1") == "Dank u. We bellen u vandaag tussen 14:30 en 14:45 op +31 6 12345678."


def test_move_by_reply(sim: Simulator, runtime: Runtime, technisch: Any, clock: ManualClock) -> None:
    clock.set(local(23, 14, 10))
    book(runtime, technisch)
    offer = say(sim, JAN, " 2 ")
    assert (
        "1 = vandaag tussen 14:45 en 15:00; 2 = vandaag tussen 15:00 en 15:15; 3 = vandaag tussen 15:15 en 15:30"
        in offer
    )
    assert say(sim, JAN, "3").startswith("Verzet: we bellen u nu vandaag tussen 15:15 en 15:30")
    [promise] = open_promises(runtime, JAN)
    assert promise.window_start == local(23, 15, 15)


def test_move_by_words(sim: Simulator, runtime: Runtime, technisch: Any, clock: ManualClock) -> None:
    clock.set(local(23, 14, 10))
    book(runtime, technisch)
    assert "morgen tussen 10:00 en 10:15" in say(sim, JAN, "Morgen om tien uur")
    [promise] = open_promises(runtime, JAN)
    assert promise.window_start == local(24, 10)


def test_cancel_by_reply(sim: Simulator, runtime: Runtime, technisch: Any, clock: ManualClock) -> None:
    clock.set(local(23, 14, 10))
    book(runtime, technisch)
    assert say(sim, JAN, "3").startswith("Uw terugbelafspraak van vandaag tussen 14:30 en 14:45 is geannuleerd")
    assert open_promises(runtime, JAN) == []


def test_gibberish_and_unknown_senders_get_help_never_silence(
    sim: Simulator, runtime: Runtime, technisch: Any, clock: ManualClock
) -> None:
    clock.set(local(23, 14, 10))
    book(runtime, technisch)
    assert say(sim, JAN, "huh??").startswith("Antwoord 1 = ok, 2 = ander tijdstip, 3 = annuleren.")
    assert say(sim, "+31687654321", "1").startswith("Voor dit nummer staat geen terugbelafspraak")
    assert say(sim, "+447400123456", "hello").startswith("There is no callback booked for this number")
    assert len(open_promises(runtime, JAN)) == 1


def test_english_conversation_story_6(sim: Simulator, runtime: Runtime, technisch: Any, clock: ManualClock) -> None:
    clock.set(local(23, 20, 50))  # 19:50 in London: the last slots of the day, then tomorrow
    book(runtime, technisch, number=EMMA, language="en", zone="Europe/London")
    [confirmation] = texts_to(sim, EMMA)
    assert "Reply 1 = ok, 2 = other time, 3 = call off." in confirmation
    answer = say(sim, EMMA, "tomorrow at eleven")
    assert answer.startswith("Moved: we will now call you tomorrow between 11:00 and 11:15 on +44 7911 123456.")
    assert say(sim, EMMA, "OTHER TIME").startswith("Pick a new time: 1 = ")


@settings(max_examples=15)
@given(body=st.text(max_size=80))
def test_any_reply_gets_an_answer(sim: Simulator, runtime: Runtime, technisch: Any, body: str) -> None:
    assume(keyword_of(body) is not Keyword.OPT_OUT)  # STOP is answered by the carrier, never by us
    assert say(sim, "+31655555555", body).strip()
