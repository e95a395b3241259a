"""The voice menu as a pure state machine: (state, event, facts, now) -> (state, what happens next).

A call goes: an active incident first (with its fix time and an SMS offer), then an open callback
promise (keep / move / cancel), then the greeting and the problem question — one open question with
a short key menu. Words are classified; an unsure match gets one confirmation; no input or no match
twice goes to a person. At most two questions are asked before the caller reaches an agent, a
callback offer or an answer (DESIGN.md §1).

What comes out is either an *action* the webhook renders as TwiML (`Ask`, `Goodbye`, `Enqueue`,
`Transfer`) or a *command* the service carries out (`RouteContact`, `BookCallback`, ...) and whose
result it feeds back in with `advance`. The vocabulary is in ivr/flow_types.py, the words in
ivr/prompts.py; the state is plain data stored on the CallSession.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from callbacks.errors import UnusableNumber
from callbacks.numbers import check_number
from callbacks.timeparse import parse_requested_time
from ivr.flow_types import (
    CALL_AGAIN_AFTER,
    LANGUAGE_KEY,
    MAX_MISSES,
    OTHER_NUMBER_KEY,
    PERSON_KEY,
    QUESTION_BUDGET,
    SPEECH_LANGUAGES,
    TRANSCRIPT_SEPARATOR,
    WAIT_ANYWAY_KEY,
    BookCallback,
    Booked,
    CallerInput,
    CallFacts,
    CancelPromise,
    Enqueue,
    Event,
    FlowState,
    Goodbye,
    Line,
    NotBooked,
    OfferSlots,
    PromiseCancelled,
    PromiseGone,
    RouteContact,
    Routed,
    SlotChoice,
    SlotsOffered,
    Subscribed,
    SubscribeIncidents,
    Transfer,
    Transition,
    other_language,
)
from ivr.prompts import (
    ask_confirm,
    ask_incident,
    ask_number,
    ask_offer,
    ask_problem,
    ask_promise,
    confirm_number,
    menu_intents,
    moment_text,
    promise_window_text,
    reask,
    say,
    wait_estimate,
)
from routing.classify import IntentPhrases, classify, yes_or_no
from terugbel.i18n import format_clock, format_window
from terugbel.phone import language_for_number, spoken_digits

# --- entry points ----------------------------------------------------------------------------------------


def start(facts: CallFacts, language: str, now: datetime) -> Transition:
    """The first thing a caller hears: incident, open promise, or greeting and the problem question."""
    state = FlowState(language=language)
    return _next_stage(state, facts, now, [])


def advance(state: FlowState, event: Event, facts: CallFacts, now: datetime) -> Transition:
    """Take the caller's input (or a command's result) at the current step and decide what follows."""
    if isinstance(event, CallerInput):
        if event.digits == LANGUAGE_KEY and state.offers_switch and state.step in {"incident", "promise", "problem"}:
            state.language = other_language(state.language)
            state.switched = True
            state.path.append(f"language:{state.language}")
            return state, reask(state, facts, now)
        if _has_input(event):
            state.offers_switch = False
        handler = _INPUT_HANDLERS.get(state.step)
        if handler is None:
            return state, _goodbye(state, [])
        return handler(state, event, facts, now)
    return _on_result(state, event, facts, now)


def _has_input(event: CallerInput) -> bool:
    return bool((event.digits or "").strip() or (event.speech or "").strip())


# --- stages before the question -----------------------------------------------------------------------------


def _next_stage(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Transition:
    if facts.incidents and not state.heard_incidents:
        state.heard_incidents = [incident.id for incident in facts.incidents]
        state.step = "incident"
        state.path.append("incident")
        return state, ask_incident(state, facts, now, lead)
    if facts.promise is not None and state.promise_id is None:
        promise = facts.promise
        state.promise_id = promise.id
        state.promise_window = [promise.start.isoformat(), promise.end.isoformat()]
        state.queue_id = promise.queue_id
        state.step = "promise"
        state.questions += 1
        state.path.append("promise")
        return state, ask_promise(state, facts, now, lead)
    state.step = "problem"
    state.questions += 1
    state.path.append("problem")
    return state, ask_problem(state, facts, lead)


# --- input per step -------------------------------------------------------------------------------------------


def _on_incident(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    if (event.digits or "").strip() == "1" and not state.subscribed:
        state.path.append("incident:subscribe")
        return state, SubscribeIncidents(tuple(state.heard_incidents))
    return _next_stage(state, facts, now, [])


def _on_promise(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    digits = (event.digits or "").strip()
    if digits == "1":
        state.path.append("promise:keep")
        state.outcome = "answered"
        window = promise_window_text(state, facts, now)
        return state, Goodbye((say(state, "ivr_promise_kept", window=window),))
    if digits == "2" and state.queue_id is not None:
        state.path.append("promise:move")
        state.moving = True
        return state, OfferSlots(state.queue_id)
    if digits == "3" and state.promise_id is not None:
        state.path.append("promise:cancel")
        return state, CancelPromise(state.promise_id)
    if (event.speech or "").strip():
        return _on_problem(state, event, facts, now)
    # Silence or a key the question did not offer: on to the problem question, counted as a miss.
    state.misses += 1
    lead = [say(state, "ivr_not_a_choice")] if digits else []
    state.step = "problem"
    state.questions += 1
    state.path.append("problem")
    return state, ask_problem(state, facts, lead)


def _on_problem(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    digits = (event.digits or "").strip()
    speech = (event.speech or "").strip()
    if digits:
        if digits == PERSON_KEY:
            state.path.append("key:0")
            return _route(state, None)
        keyed = next((i for i in menu_intents(facts) if i.key == digits), None)
        if keyed is not None:
            state.path.append(f"key:{digits}")
            return _route(state, keyed.name)
        return _miss(state, facts, "ivr_not_a_choice")
    if speech:
        state.words = f"{state.words}{TRANSCRIPT_SEPARATOR}{speech}" if state.words else speech
        intents = [IntentPhrases(i.name, i.phrases.get(state.language, ())) for i in facts.intents]
        found = classify(speech, intents, event.confidence)
        if found.intent is not None and found.sure:
            state.path.append("speech:sure")
            return _route(state, found.intent)
        if found.intent is not None and state.questions < QUESTION_BUDGET:
            state.candidate = found.intent
            state.step = "confirm"
            state.questions += 1
            state.path.append("confirm")
            return state, ask_confirm(state, facts, found.intent)
        if found.intent is not None:
            state.path.append("speech:best-guess")
            return _route(state, found.intent)
        return _miss(state, facts, "ivr_not_understood")
    return _miss(state, facts, "ivr_not_heard")


def _miss(state: FlowState, facts: CallFacts, reason: str) -> Transition:
    state.misses += 1
    state.path.append(f"miss:{reason.removeprefix('ivr_')}")
    if state.misses >= MAX_MISSES or state.questions >= QUESTION_BUDGET:
        return _route(state, None, lead_key="ivr_to_person")
    state.step = "problem"
    state.questions += 1
    return state, ask_problem(state, facts, [say(state, reason)], again=True)


def _on_confirm(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    digits = (event.digits or "").strip()
    speech = (event.speech or "").strip()
    answer = yes_or_no(speech) if speech else None
    if digits == "1" or (not digits and answer is True):
        state.path.append("confirm:yes")
        return _route(state, state.candidate)
    if speech:
        # "Nee, mijn factuur": the correction names what it is about.
        state.words = f"{state.words}{TRANSCRIPT_SEPARATOR}{speech}" if state.words else speech
        intents = [IntentPhrases(i.name, i.phrases.get(state.language, ())) for i in facts.intents]
        found = classify(speech, intents, event.confidence)
        if found.intent is not None and found.intent != state.candidate:
            state.path.append("confirm:corrected")
            return _route(state, found.intent)
    state.path.append("confirm:no")
    return _route(state, None, lead_key="ivr_to_person")


def _route(state: FlowState, intent: str | None, *, lead_key: str | None = None) -> Transition:
    state.intent = intent
    state.step = "routing"
    state.path.append(f"route:{intent or 'person'}")
    if lead_key:
        state.path.append(f"lead:{lead_key}")
    return state, RouteContact(intent, state.words)


def _on_offer(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
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
        return state, _enqueue(state, [say(state, "ivr_connecting")])
    if speech and state.queue_id is not None and number:
        near = parse_requested_time(speech, state.language, facts.zone, now)
        if near is not None:
            state.path.append("offer:time")
            return state, BookCallback(state.queue_id, number, near=near)
    reason = "ivr_time_not_understood" if speech else ("ivr_not_a_choice" if digits else "ivr_not_heard")
    if state.retries < 1:
        state.retries += 1
        return state, ask_offer(state, facts, now, [say(state, reason)])
    return _no_booking(state, facts, now, [say(state, reason)])


def _on_number(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    """The number to be called on, typed: checked as the booking will check it, then read back."""
    digits = (event.digits or "").strip()
    refusal = "ivr_not_heard"
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


def _on_number_confirm(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
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
    reason = "ivr_not_a_choice" if digits or speech else "ivr_not_heard"
    if state.retries < 1 and state.pending_number:
        state.retries += 1
        return state, confirm_number(state, [say(state, reason)])
    # Not confirmed: the callback stays on the number it was on.
    state.pending_number = None
    state.step = "offer"
    state.retries = 0
    return state, ask_offer(state, facts, now, [say(state, reason)])


def _on_wait_choice(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    """A key pressed while waiting in the queue: 1 books the callback the wait message offered."""
    digits = (event.digits or "").strip()
    offers = state.choices()
    if digits == "1" and offers and state.queue_id is not None and facts.number:
        state.path.append("wait:callback")
        return state, BookCallback(state.queue_id, facts.number, slot_id=offers[0].slot_id)
    return state, _enqueue(state, [])


_INPUT_HANDLERS = {
    "incident": _on_incident,
    "promise": _on_promise,
    "problem": _on_problem,
    "confirm": _on_confirm,
    "offer": _on_offer,
    "number": _on_number,
    "number_confirm": _on_number_confirm,
    "queued": _on_wait_choice,
}


# --- results of commands ------------------------------------------------------------------------------------------


def _on_result(state: FlowState, event: Event, facts: CallFacts, now: datetime) -> Transition:
    if isinstance(event, Subscribed):
        state.subscribed = True
        return _next_stage(state, facts, now, [say(state, "ivr_incident_subscribed")])
    if isinstance(event, Routed):
        return _on_routed(state, event, facts, now)
    if isinstance(event, SlotsOffered):
        state.queue_id = event.queue_id
        if not event.offers:
            state.outcome = "answered"
            window = promise_window_text(state, facts, now)
            return state, Goodbye((say(state, "ivr_no_callback_slot"), say(state, "ivr_promise_kept", window=window)))
        _store_offers(state, event.offers)
        state.step = "offer"
        state.retries = 0
        return state, ask_offer(state, facts, now, [])
    if isinstance(event, Booked):
        state.outcome = "callback_booked"
        state.step = "done"
        state.path.append("booked")
        window = format_window(event.start, event.end, facts.zone, state.language, now)
        line = say(state, "ivr_booked", window=window, number=spoken_digits(event.number))
        return state, Goodbye((line,))
    if isinstance(event, NotBooked):
        state.path.append(f"not-booked:{event.reason}")
        if event.reason == "busy":
            state.outcome = "answered"
            return state, Goodbye((say(state, "ivr_promise_busy"),))
        if event.reason == "number" and not state.moving and state.retries < 1:
            state.retries += 1
            _store_offers(state, event.offers or state.choices())
            state.step = "number"
            return state, ask_number(state, [say(state, event.refusal or "ivr_number_unusable")])
        if event.offers and state.retries < 1:
            state.retries += 1
            _store_offers(state, event.offers)
            state.step = "offer"
            key = "ivr_slot_taken" if event.reason == "slot_taken" else event.refusal or "ivr_number_unusable"
            return state, ask_offer(state, facts, now, [say(state, key)])
        return _no_booking(state, facts, now, [say(state, "ivr_no_callback_slot")])
    if isinstance(event, PromiseCancelled):
        state.outcome = "answered"
        state.step = "done"
        window = format_window(event.start, event.end, facts.zone, state.language, now)
        return state, Goodbye((say(state, "ivr_promise_cancelled", window=window),))
    if isinstance(event, PromiseGone):
        state.promise_id = None
        state.step = "problem"
        state.path.append("promise:gone")
        return state, ask_problem(state, facts, [say(state, "ivr_promise_gone")])
    return state, _goodbye(state, [])


def _store_offers(state: FlowState, offers: Sequence[SlotChoice]) -> None:
    state.offers = [[o.slot_id, o.start.isoformat(), o.end.isoformat()] for o in offers]


def _on_routed(state: FlowState, routed: Routed, facts: CallFacts, now: datetime) -> Transition:
    state.queue_id = routed.queue_id
    state.queue_name = routed.queue_name
    state.queue_open = routed.open
    state.wait_seconds = routed.wait_seconds
    state.opens_at = routed.opens_at.isoformat() if routed.opens_at else None
    state.moving = False
    _store_offers(state, routed.offers)
    lead: list[Line] = []
    if "lead:ivr_to_person" in state.path:
        lead.append(say(state, "ivr_to_person"))
    if routed.announcement:
        text = routed.announcement.get(state.language) or next(iter(routed.announcement.values()), "")
        if text:
            lead.append(Line(text, state.language))
    if routed.open and not routed.offer_callback_first:
        return state, _enqueue(state, [*lead, say(state, "ivr_connecting"), *wait_estimate(state, routed.wait_seconds)])
    if facts.number and routed.offers:
        state.step = "offer"
        state.retries = 0
        lead.extend([say(state, "ivr_closed")] if not routed.open else wait_estimate(state, routed.wait_seconds))
        state.path.append("offer")
        return state, ask_offer(state, facts, now, lead)
    if routed.open:
        return state, _enqueue(state, [*lead, say(state, "ivr_connecting"), *wait_estimate(state, routed.wait_seconds)])
    lead.append(say(state, "ivr_closed"))
    return _no_booking(state, facts, now, lead)


def _no_booking(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Transition:
    """No callback was booked: wait in the queue while open, else a person or a concrete time to call."""
    if state.moving and state.promise_window:
        state.outcome = "answered"
        window = promise_window_text(state, facts, now)
        return state, Goodbye((*lead, say(state, "ivr_promise_kept", window=window)))
    if state.queue_open and state.queue_name:
        return state, _enqueue(state, [*lead, say(state, "ivr_connecting")])
    if facts.overflow_number:
        state.outcome = "transferred"
        state.path.append("overflow")
        return state, Transfer((*lead, say(state, "ivr_fallback_overflow")), facts.overflow_number)
    opens_at = datetime.fromisoformat(state.opens_at) if state.opens_at else None
    if opens_at is not None:
        return state, _goodbye(
            state, [*lead, say(state, "ivr_open_again", moment=moment_text(opens_at, facts, state, now))]
        )
    again = now + CALL_AGAIN_AFTER
    return state, _goodbye(
        state, [*lead, say(state, "ivr_call_again_at", clock=format_clock(again, facts.zone, state.language))]
    )


def _enqueue(state: FlowState, lines: list[Line]) -> Enqueue:
    state.step = "queued"
    state.outcome = "queued"
    state.path.append("queued")
    return Enqueue(tuple(lines), state.queue_name or "")


def _goodbye(state: FlowState, lines: list[Line]) -> Goodbye:
    state.step = "done"
    return Goodbye((*lines, say(state, "ivr_goodbye")))


def language_for(stored: str | None, number: str | None) -> str:
    """The caller's stored preference, else the language their number suggests."""
    if stored in SPEECH_LANGUAGES:
        return stored
    return language_for_number(number)
