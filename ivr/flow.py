"""The voice menu as a pure state machine: (state, event, facts, now) -> (state, what happens next).

A call goes: an active incident first (with its fix time and an SMS offer), then an open callback
promise (keep / move / cancel), then the greeting and the problem question — one open question with
a short key menu. Words are classified; an unsure match gets one confirmation; no input or no match
twice goes to a person. At most two questions are asked before the caller reaches an agent, a
callback offer or an answer (docs/product-rules.md).

What comes out is either an *action* the webhook renders as TwiML (`Ask`, `Goodbye`, `Enqueue`,
`Transfer`) or a *command* the service carries out (`RouteContact`, `BookCallback`, ...) and whose
result it feeds back in with `advance`. The vocabulary is in ivr/flow_types.py, the words in
ivr/prompts.py, the callback offer's steps in ivr/offer_flow.py; the state is plain data stored on
the CallSession.
"""

from __future__ import annotations

from datetime import datetime

from callbacks.timeparse import parse_requested_time
from ivr.flow_types import (
    LANGUAGE_KEY,
    MAX_MISSES,
    PERSON_KEY,
    QUESTION_BUDGET,
    SPEECH_LANGUAGES,
    TRANSCRIPT_SEPARATOR,
    BookCallback,
    Booked,
    CallerInput,
    CallFacts,
    CancelPromise,
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
    SlotsOffered,
    Subscribed,
    SubscribeIncidents,
    Transition,
    other_language,
)
from ivr.offer_flow import (
    enqueue,
    goodbye,
    no_booking,
    on_booking_result,
    on_number,
    on_number_confirm,
    on_offer,
    on_wait_choice,
    store_offers,
)
from ivr.prompts import (
    ask_callback_problem,
    ask_confirm,
    ask_incident,
    ask_offer,
    ask_problem,
    ask_promise,
    joining_queue,
    menu_intents,
    moment_text,
    promise_window_text,
    reask,
    say,
    wait_estimate,
)
from routing.classify import IntentPhrases, asks_for_callback, classify, yes_or_no
from terugbel.i18n import format_window, message_id
from terugbel.phone import language_for_number

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
            return state, goodbye(state, [])
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
        return _miss(state, facts, message_id("ivr_not_a_choice"))
    if speech:
        state.words = f"{state.words}{TRANSCRIPT_SEPARATOR}{speech}" if state.words else speech
        intents = [IntentPhrases(i.name, i.phrases.get(state.language, ())) for i in facts.intents]
        found = classify(speech, intents, event.confidence)
        asked = _callback_time_asked(state, speech, facts, now)
        if asked is not None and not found.sure:
            return _ask_what_the_callback_is_about(state, facts, asked, now)
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
        return _miss(state, facts, message_id("ivr_not_understood"))
    return _miss(state, facts, message_id("ivr_not_heard"))


def _callback_time_asked(state: FlowState, speech: str, facts: CallFacts, now: datetime) -> datetime | None:
    """The time in words that ask for a callback ("bel me morgen om tien uur terug"), kept on the state."""
    if state.requested_at is not None or facts.number is None or not asks_for_callback(speech):
        return None
    asked = parse_requested_time(speech, state.language, facts.zone, now)
    if asked is not None:
        state.requested_at = asked.isoformat()
        state.path.append("callback:asked")
    return asked


def _ask_what_the_callback_is_about(state: FlowState, facts: CallFacts, asked: datetime, now: datetime) -> Transition:
    """The caller asked for a callback time before saying the problem: ask it once, in a few words,
    so the callback goes to the right queue; with no question left, the general queue books it."""
    if state.questions >= QUESTION_BUDGET:
        return _route(state, None)
    state.step = "problem"
    state.questions += 1
    return state, ask_callback_problem(state, facts, moment_text(asked, facts, state, now))


def _miss(state: FlowState, facts: CallFacts, reason: str) -> Transition:
    state.misses += 1
    state.path.append(f"miss:{reason.removeprefix('ivr_')}")
    if state.requested_at is not None:  # the callback is asked for: the general queue books it
        return _route(state, None)
    if state.misses >= MAX_MISSES or state.questions >= QUESTION_BUDGET:
        return _route(state, None, lead_key=message_id("ivr_to_person"))
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
    return _route(state, None, lead_key=message_id("ivr_to_person"))


def _route(state: FlowState, intent: str | None, *, lead_key: str | None = None) -> Transition:
    state.intent = intent
    state.step = "routing"
    state.path.append(f"route:{intent or 'person'}")
    if lead_key:
        state.path.append(f"lead:{lead_key}")
    return state, RouteContact(intent, state.words)


_INPUT_HANDLERS = {
    "incident": _on_incident,
    "promise": _on_promise,
    "problem": _on_problem,
    "confirm": _on_confirm,
    "offer": on_offer,
    "number": on_number,
    "number_confirm": on_number_confirm,
    "queued": on_wait_choice,
}


# --- results of commands ------------------------------------------------------------------------------------------


def _on_result(state: FlowState, event: Event, facts: CallFacts, now: datetime) -> Transition:
    if isinstance(event, Subscribed):
        state.subscribed = True
        return _next_stage(state, facts, now, [say(state, "ivr_incident_subscribed")])
    if isinstance(event, Routed):
        return _on_routed(state, event, facts, now)
    if isinstance(event, SlotsOffered | Booked | NotBooked):
        return on_booking_result(state, event, facts, now)
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
    return state, goodbye(state, [])


def _on_routed(state: FlowState, routed: Routed, facts: CallFacts, now: datetime) -> Transition:
    state.queue_id = routed.queue_id
    state.queue_name = routed.queue_name
    state.queue_open = routed.open
    state.wait_seconds = routed.wait_seconds
    state.opens_at = routed.opens_at.isoformat() if routed.opens_at else None
    state.moving = False
    store_offers(state, routed.offers)
    if state.requested_at is not None and facts.number:
        # Asked for at the first question: booked at (or nearest to) that time, no offer to choose from.
        state.path.append("offer:time")
        return state, BookCallback(routed.queue_id, facts.number, near=datetime.fromisoformat(state.requested_at))
    lead: list[Line] = []
    if "lead:ivr_to_person" in state.path:
        lead.append(say(state, "ivr_to_person"))
    if routed.announcement:
        text = routed.announcement.get(state.language) or next(iter(routed.announcement.values()), "")
        if text:
            lead.append(Line(text, state.language))
    if routed.open and not routed.offer_callback_first:
        return state, enqueue(state, [*lead, *joining_queue(state)])
    if facts.number and routed.offers:
        state.step = "offer"
        state.retries = 0
        lead.extend([say(state, "ivr_closed")] if not routed.open else wait_estimate(state, routed.wait_seconds))
        state.path.append("offer")
        return state, ask_offer(state, facts, now, lead)
    if routed.open:
        return state, enqueue(state, [*lead, *joining_queue(state)])
    lead.append(say(state, "ivr_closed"))
    return no_booking(state, facts, now, lead)


def language_for(stored: str | None, number: str | None) -> str:
    """The caller's stored preference, else the language their number suggests."""
    if stored in SPEECH_LANGUAGES:
        return stored
    return language_for_number(number)
