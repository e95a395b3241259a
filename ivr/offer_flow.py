"""The callback part of the voice menu, pure: the offer (a slot by key, a spoken time, another
number, waiting anyway), the typed number read back, what a booking's result leads to, and the
two ways the menu ends without one (the queue, or a concrete time to call again).

ivr/flow.py hands the steps `offer`, `number`, `number_confirm` and `queued` to these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from callbacks.errors import UnusableNumber
from callbacks.numbers import check_number
from callbacks.timeparse import parse_requested_time
from ivr.flow_types import (
    CALL_AGAIN_AFTER,
    OTHER_NUMBER_KEY,
    WAIT_ANYWAY_KEY,
    BookCallback,
    Booked,
    CallerInput,
    CallFacts,
    Enqueue,
    FlowState,
    Goodbye,
    Line,
    NotBooked,
    SlotChoice,
    SlotsOffered,
    Transfer,
    Transition,
)
from ivr.prompts import (
    ask_number,
    ask_offer,
    confirm_number,
    join_line,
    moment_text,
    promise_window_text,
    say,
)
from routing.classify import yes_or_no
from terugbel.i18n import format_clock, format_window, message_id
from terugbel.phone import spoken_digits


def on_offer(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    """A slot by its key, a spoken time, 4 for another number, 5 (or silence, when open) to wait; else once more."""
    digits = (event.digits or "").strip()
    speech = (event.speech or "").strip()
    offers = state.choices()
    number = state.callback_number or facts.number
    if state.queue_id is not None and number and digits.isdigit() and 1 <= int(digits) <= len(offers):
        state.path.append(f"offer:{digits}")
        return state, BookCallback(state.queue_id, number, slot_id=offers[int(digits) - 1].slot_id)
    if digits == OTHER_NUMBER_KEY and not state.moving:
        state.step = "number"
        state.retries = 0
        state.path.append("offer:other-number")
        return state, ask_number(state, [])
    if digits == WAIT_ANYWAY_KEY and state.queue_open and not state.moving:
        state.path.append("offer:wait")
        return state, enqueue(state, [join_line(state)])
    if not digits and not speech and state.queue_open and not state.moving:
        # Silence at the offer while we are open: the caller stays on the line rather than hearing
        # the question again (a callback is offered once more while they wait).
        state.path.append("offer:silent-wait")
        return state, enqueue(state, [join_line(state)])
    if speech and state.queue_id is not None and number:
        near = parse_requested_time(speech, state.language, facts.zone, now)
        if near is not None:
            state.path.append("offer:time")
            return state, BookCallback(state.queue_id, number, near=near)
    reason = (
        message_id("ivr_time_not_understood")
        if speech
        else (message_id("ivr_not_a_choice") if digits else message_id("ivr_not_heard"))
    )
    if state.retries < 1:
        state.retries += 1
        return state, ask_offer(state, facts, now, [say(state, reason)])
    return no_booking(state, facts, now, [say(state, reason)])


def on_number(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    """The number to be called on, typed: checked as the booking will check it, then read back."""
    digits = (event.digits or "").strip()
    refusal = message_id("ivr_not_heard")
    if digits:
        try:
            state.pending_number = check_number(digits, facts.region)
        except UnusableNumber as refused:
            refusal = refused.reason  # not a number, not a mobile, or a premium-rate line: say which
        else:
            state.step = "number_confirm"
            state.retries = 0
            state.path.append("number:typed")
            return state, confirm_number(state, [])
    if state.retries < 1:
        state.retries += 1
        return state, ask_number(state, [say(state, refusal)])
    state.step = "offer"
    state.retries = 0
    return state, ask_offer(state, facts, now, [say(state, refusal)])


def on_number_confirm(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    """1 (or yes): call that number; 2 (or no): type it again."""
    digits = (event.digits or "").strip()
    speech = (event.speech or "").strip()
    answer = yes_or_no(speech) if speech and not digits else None
    if (digits == "1" or answer is True) and state.pending_number:
        state.callback_number, state.pending_number = state.pending_number, None
        state.step = "offer"
        state.retries = 0
        state.path.append("number:ok")
        return state, ask_offer(state, facts, now, [])
    if digits == "2" or answer is False:
        state.pending_number = None
        state.step = "number"
        state.retries = 0
        state.path.append("number:again")
        return state, ask_number(state, [])
    reason = message_id("ivr_not_a_choice") if digits or speech else message_id("ivr_not_heard")
    if state.retries < 1 and state.pending_number:
        state.retries += 1
        return state, confirm_number(state, [say(state, reason)])
    # Not confirmed: the callback stays on the number it was on.
    state.pending_number = None
    state.step = "offer"
    state.retries = 0
    return state, ask_offer(state, facts, now, [say(state, reason)])


def on_wait_choice(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    """A key pressed while waiting in the queue: 1 books the callback the wait message offered."""
    digits = (event.digits or "").strip()
    offers = state.choices()
    if digits == "1" and offers and state.queue_id is not None and facts.number:
        state.path.append("wait:callback")
        return state, BookCallback(state.queue_id, facts.number, slot_id=offers[0].slot_id)
    return state, enqueue(state, [])


def on_booking_result(
    state: FlowState, event: SlotsOffered | Booked | NotBooked, facts: CallFacts, now: datetime
) -> Transition:
    """Slots to offer, a booked callback, or why none was booked: what the caller hears next."""
    if isinstance(event, SlotsOffered):
        state.queue_id = event.queue_id
        if not event.offers:
            state.outcome = "answered"
            window = promise_window_text(state, facts, now)
            return state, Goodbye((say(state, "ivr_no_callback_slot"), say(state, "ivr_promise_kept", window=window)))
        store_offers(state, event.offers)
        state.step = "offer"
        state.retries = 0
        return state, ask_offer(state, facts, now, [])
    if isinstance(event, Booked):
        state.outcome = "callback_booked"
        state.step = "done"
        state.path.append("booked")
        window = format_window(event.start, event.end, facts.zone, state.language, now)
        number = spoken_digits(event.number)
        if event.texted:
            line = say(state, "ivr_booked", window=window, number=number)
        else:  # a landline, or the caller texted STOP: the time said twice instead of a text
            line = say(state, "ivr_booked_no_sms", window=window, number=number)
        return state, Goodbye((say(state, "ivr_slot_taken"), line) if event.instead else (line,))
    # Not booked:
    state.path.append(f"not-booked:{event.reason}")
    if event.reason == "busy":
        state.outcome = "answered"
        return state, Goodbye((say(state, "ivr_promise_busy"),))
    if event.reason == "number" and not state.moving and state.retries < 1:
        state.retries += 1
        store_offers(state, event.offers or state.choices())
        state.step = "number"
        return state, ask_number(state, [say(state, event.refusal or message_id("ivr_number_unusable"))])
    if event.offers and state.retries < 1:
        state.retries += 1
        store_offers(state, event.offers)
        state.step = "offer"
        unusable = event.refusal or message_id("ivr_number_unusable")
        return state, ask_offer(state, facts, now, [say(state, unusable)])
    return no_booking(state, facts, now, [say(state, "ivr_no_callback_slot")])


def store_offers(state: FlowState, offers: Sequence[SlotChoice]) -> None:
    """Keep the slots offered, in their order, on the state (plain JSON values)."""
    state.offers = [[o.slot_id, o.start.isoformat(), o.end.isoformat()] for o in offers]


def no_booking(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Transition:
    """No callback was booked: wait in the queue while open, else a person or a concrete time to call."""
    if state.moving and state.promise_window:
        state.outcome = "answered"
        window = promise_window_text(state, facts, now)
        return state, Goodbye((*lead, say(state, "ivr_promise_kept", window=window)))
    if state.queue_open and state.queue_name:
        return state, enqueue(state, [*lead, join_line(state)])
    if facts.overflow_number:
        state.outcome = "transferred"
        state.path.append("overflow")
        return state, Transfer((*lead, say(state, "ivr_fallback_overflow")), facts.overflow_number)
    opens_at = datetime.fromisoformat(state.opens_at) if state.opens_at else None
    if opens_at is not None:
        return state, goodbye(
            state, [*lead, say(state, "ivr_open_again", moment=moment_text(opens_at, facts, state, now))]
        )
    again = now + CALL_AGAIN_AFTER
    return state, goodbye(
        state, [*lead, say(state, "ivr_call_again_at", clock=format_clock(again, facts.zone, state.language))]
    )


def enqueue(state: FlowState, lines: list[Line]) -> Enqueue:
    """Put the caller in the routed queue, after these lines."""
    state.step = "queued"
    state.outcome = "queued"
    state.path.append("queued")
    return Enqueue(tuple(lines), state.queue_name or "")


def goodbye(state: FlowState, lines: list[Line]) -> Goodbye:
    """End the call after these lines and a goodbye."""
    state.step = "done"
    return Goodbye((*lines, say(state, "ivr_goodbye")))
