"""The voice menu as a pure state machine: (state, event, facts, now) -> (state, what happens next).

A call goes: an active incident first (with its fix time and an SMS offer), then an open callback
promise (keep / move / cancel), then the greeting and the problem question — one open question with
a short key menu. Words are classified; an unsure match gets one confirmation; no input or no match
twice goes to a person. At most two questions are asked before the caller reaches an agent, a
callback offer or an answer (DESIGN.md §1).

What comes out is either an *action* the webhook renders as TwiML (`Ask`, `Goodbye`, `Enqueue`,
`Transfer`) or a *command* the service carries out (`RouteContact`, `BookCallback`, ...) and whose
result it feeds back in with `advance`. The state is plain data stored on the CallSession.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from callbacks.errors import UnusableNumber
from callbacks.numbers import check_number
from callbacks.timeparse import parse_requested_time
from routing.classify import IntentPhrases, classify, yes_or_no
from terugbel.i18n import format_clock, format_day, format_moment, format_window, t
from terugbel.phone import spoken_digits

QUESTION_BUDGET = 2  # questions before the caller reaches an agent, a callback offer or an answer
MAX_MISSES = 2  # no input or no match this often: a person
LANGUAGE_KEY = "9"
PERSON_KEY = "0"
MAX_MENU_KEYS = 4
SPEECH_LANGUAGES = {"nl": "nl-NL", "en": "en-GB"}
SPEECH_MODEL = "phone_call"  # Twilio's model tuned for telephone audio
OTHER_NUMBER_KEY = "4"
WAIT_ANYWAY_KEY = "5"
CALL_AGAIN_AFTER = timedelta(minutes=15)


def other_language(language: str) -> str:
    return "en" if language == "nl" else "nl"


# --- facts the service loads ------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentNotice:
    id: int
    messages: dict[str, str]  # language -> sentence
    fix_at: datetime | None


@dataclass(frozen=True)
class PromiseNotice:
    id: int
    queue_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class IntentOption:
    name: str
    labels: dict[str, str]  # language -> label
    key: str | None
    phrases: dict[str, tuple[str, ...]]  # language -> phrases


@dataclass(frozen=True)
class CallFacts:
    number: str | None  # E.164, None when withheld
    caller_name: str | None
    zone: str
    region: str = "NL"
    incidents: tuple[IncidentNotice, ...] = ()
    promise: PromiseNotice | None = None
    intents: tuple[IntentOption, ...] = ()
    overflow_number: str | None = None


# --- what the caller hears: actions ----------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    text: str
    language: str


@dataclass(frozen=True)
class Ask:
    """One <Gather>: the prompt lines, then the caller's keys or words go to the flow's next step."""

    lines: tuple[Line, ...]
    step: str
    language: str
    speech: bool = True
    hints: tuple[str, ...] = ()
    num_digits: int | None = None
    timeout: int = 5
    finish_on_key: str | None = None
    act_on_silence: bool = True  # False: no input falls through (the hold music loop goes on)


@dataclass(frozen=True)
class Goodbye:
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Enqueue:
    lines: tuple[Line, ...]
    queue_name: str


@dataclass(frozen=True)
class Transfer:
    lines: tuple[Line, ...]
    number: str


Action = Ask | Goodbye | Enqueue | Transfer


# --- what the service must do: commands --------------------------------------------------------------


@dataclass(frozen=True)
class SubscribeIncidents:
    incident_ids: tuple[int, ...]


@dataclass(frozen=True)
class RouteContact:
    intent: str | None  # None: a person (the general queue)
    words: str | None


@dataclass(frozen=True)
class BookCallback:
    queue_id: int
    number: str
    slot_id: int | None = None
    near: datetime | None = None


@dataclass(frozen=True)
class OfferSlots:
    queue_id: int


@dataclass(frozen=True)
class CancelPromise:
    promise_id: int


Command = SubscribeIncidents | RouteContact | BookCallback | OfferSlots | CancelPromise


# --- what happened: events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CallerInput:
    digits: str | None = None
    speech: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class Subscribed:
    pass


@dataclass(frozen=True)
class SlotChoice:
    slot_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Routed:
    queue_id: int
    queue_name: str
    open: bool
    wait_seconds: int
    offer_callback_first: bool
    announcement: dict[str, str] | None = None
    offers: tuple[SlotChoice, ...] = ()
    opens_at: datetime | None = None


@dataclass(frozen=True)
class SlotsOffered:
    queue_id: int
    offers: tuple[SlotChoice, ...]


@dataclass(frozen=True)
class Booked:
    start: datetime
    end: datetime
    number: str


@dataclass(frozen=True)
class NotBooked:
    reason: str  # slot_taken, no_slot, number, busy
    offers: tuple[SlotChoice, ...] = ()
    refusal: str | None = None  # why the number was refused: the catalogue key to say


@dataclass(frozen=True)
class PromiseCancelled:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PromiseGone:
    pass


Event = CallerInput | Subscribed | Routed | SlotsOffered | Booked | NotBooked | PromiseCancelled | PromiseGone


# --- the state -----------------------------------------------------------------------------------------


@dataclass
class FlowState:
    language: str
    step: str = "start"
    questions: int = 0
    misses: int = 0
    retries: int = 0  # re-prompts of the current step
    offers_switch: bool = True  # "For English, press 9" is offered until the caller answers something else
    switched: bool = False
    greeted: bool = False
    heard_incidents: list[int] = field(default_factory=list)
    subscribed: bool = False
    promise_id: int | None = None
    promise_window: list[str] | None = None  # [start, end] ISO
    candidate: str | None = None
    intent: str | None = None
    words: str | None = None
    queue_id: int | None = None
    queue_name: str | None = None
    queue_open: bool = False
    wait_seconds: int = 0
    opens_at: str | None = None  # ISO: when a closed queue opens again
    offers: list[list[Any]] = field(default_factory=list)  # [slot_id, start ISO, end ISO]
    moving: bool = False
    callback_number: str | None = None
    pending_number: str | None = None  # typed, read back, not yet confirmed
    outcome: str | None = None  # set once the menu reached its end: callback_booked, answered, queued...
    path: list[str] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        # Every field is a JSON value; copying the lists (offers: lists of lists) is all asdict's
        # deep copy did here, at a tenth of an incoming call's time.
        return {name: _copied(getattr(self, name)) for name in _STATE_FIELDS}

    @classmethod
    def from_data(cls, data: dict[str, Any] | None, language: str) -> FlowState:
        values = {k: v for k, v in (data or {}).items() if k in _KNOWN_FIELDS}
        values.setdefault("language", language)
        return cls(**values)

    def choices(self) -> tuple[SlotChoice, ...]:
        return tuple(
            SlotChoice(int(slot_id), datetime.fromisoformat(start), datetime.fromisoformat(end))
            for slot_id, start, end in self.offers
        )


_STATE_FIELDS = tuple(f.name for f in fields(FlowState))
_KNOWN_FIELDS = frozenset(_STATE_FIELDS)


def _copied(value: Any) -> Any:
    return [_copied(item) for item in value] if isinstance(value, list) else value


Transition = tuple[FlowState, Action | Command]


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
            return state, _reask(state, facts, now)
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
        return state, _ask_incident(state, facts, now, lead)
    if facts.promise is not None and state.promise_id is None:
        promise = facts.promise
        state.promise_id = promise.id
        state.promise_window = [promise.start.isoformat(), promise.end.isoformat()]
        state.queue_id = promise.queue_id
        state.step = "promise"
        state.questions += 1
        state.path.append("promise")
        return state, _ask_promise(state, facts, now, lead)
    state.step = "problem"
    state.questions += 1
    state.path.append("problem")
    return state, _ask_problem(state, facts, lead)


def _say(state: FlowState, key: str, **params: object) -> Line:
    return Line(t(state.language, key, **params), state.language)


def _switch_line(state: FlowState) -> list[Line]:
    if not state.offers_switch:
        return []
    other = other_language(state.language)
    return [Line(t(state.language, "ivr_switch_language"), other)]


def _ask_incident(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Ask:
    lines = list(lead)
    for incident in facts.incidents:
        message = incident.messages.get(state.language) or next(iter(incident.messages.values()), "")
        if message:
            lines.append(Line(message, state.language))
        if incident.fix_at is not None:
            lines.append(_say(state, "ivr_incident_fix_at", moment=_moment(incident.fix_at, facts, state, now)))
    lines.append(_say(state, "ivr_incident_offer"))
    lines.extend(_switch_line(state))
    return Ask(tuple(lines), "incident", state.language, speech=False, num_digits=1, timeout=4)


def _promise_window_text(state: FlowState, facts: CallFacts, now: datetime) -> str:
    start, end = (datetime.fromisoformat(v) for v in state.promise_window or [])
    return format_window(start, end, facts.zone, state.language, now)


def _ask_promise(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Ask:
    lines = [*lead, _say(state, "ivr_promise", window=_promise_window_text(state, facts, now))]
    lines.extend(_switch_line(state))
    return Ask(tuple(lines), "promise", state.language, hints=_hints(state, facts))


def _ask_problem(state: FlowState, facts: CallFacts, lead: list[Line], *, again: bool = False) -> Ask:
    lines = list(lead)
    if not state.greeted:
        state.greeted = True
        if facts.caller_name:
            lines.append(_say(state, "ivr_greeting_known", name=facts.caller_name))
        else:
            lines.append(_say(state, "ivr_welcome"))
    lines.append(_say(state, "ivr_problem_again" if again else "ivr_problem_question"))
    keyed = _menu_intents(facts)
    if keyed:
        choices = ", ".join(
            t(state.language, "ivr_key_choice", digit=i.key, label=_label(i, state.language)) for i in keyed
        )
        lines.append(_say(state, "ivr_key_menu", choices=choices))
    else:
        lines.append(_say(state, "ivr_key_menu_person_only"))
    lines.extend(_switch_line(state))
    return Ask(tuple(lines), "problem", state.language, hints=_hints(state, facts), timeout=6)


def _reask(state: FlowState, facts: CallFacts, now: datetime) -> Ask:
    if state.step == "incident":
        return _ask_incident(state, facts, now, [])
    if state.step == "promise":
        return _ask_promise(state, facts, now, [])
    state.greeted = False
    return _ask_problem(state, facts, [])


def _menu_intents(facts: CallFacts) -> list[IntentOption]:
    keyed = sorted((i for i in facts.intents if i.key), key=lambda i: i.key or "")
    return keyed[:MAX_MENU_KEYS]


def _label(intent: IntentOption, language: str) -> str:
    return intent.labels.get(language) or intent.name


def _hints(state: FlowState, facts: CallFacts) -> tuple[str, ...]:
    hints: list[str] = []
    for intent in facts.intents:
        hints.append(_label(intent, state.language))
        hints.extend(intent.phrases.get(state.language, ()))
    return tuple(dict.fromkeys(h for h in hints if h))


def _moment(moment: datetime, facts: CallFacts, state: FlowState, now: datetime) -> str:
    return format_moment(moment, facts.zone, state.language, now)


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
        window = _promise_window_text(state, facts, now)
        return state, Goodbye((_say(state, "ivr_promise_kept", window=window),))
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
    lead = [_say(state, "ivr_not_a_choice")] if digits else []
    state.step = "problem"
    state.questions += 1
    state.path.append("problem")
    return state, _ask_problem(state, facts, lead)


def _on_problem(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    digits = (event.digits or "").strip()
    speech = (event.speech or "").strip()
    if digits:
        if digits == PERSON_KEY:
            state.path.append("key:0")
            return _route(state, None)
        keyed = next((i for i in _menu_intents(facts) if i.key == digits), None)
        if keyed is not None:
            state.path.append(f"key:{digits}")
            return _route(state, keyed.name)
        return _miss(state, facts, "ivr_not_a_choice")
    if speech:
        state.words = f"{state.words} / {speech}" if state.words else speech
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
            label = next((_label(i, state.language) for i in facts.intents if i.name == found.intent), found.intent)
            lines = (_say(state, "ivr_confirm", label=label),)
            return state, Ask(lines, "confirm", state.language, hints=("ja", "nee", "yes", "no"), num_digits=1)
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
    return state, _ask_problem(state, facts, [_say(state, reason)], again=True)


def _on_confirm(state: FlowState, event: CallerInput, facts: CallFacts, now: datetime) -> Transition:
    digits = (event.digits or "").strip()
    speech = (event.speech or "").strip()
    answer = yes_or_no(speech) if speech else None
    if digits == "1" or (not digits and answer is True):
        state.path.append("confirm:yes")
        return _route(state, state.candidate)
    if speech:
        # "Nee, mijn factuur": the correction names what it is about.
        state.words = f"{state.words} / {speech}" if state.words else speech
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
        return state, _ask_number(state, [])
    if digits == WAIT_ANYWAY_KEY and state.queue_open and not state.moving:
        state.path.append("offer:wait")
        return state, _enqueue(state, [_say(state, "ivr_connecting")])
    if speech and state.queue_id is not None and number:
        near = parse_requested_time(speech, state.language, facts.zone, now)
        if near is not None:
            state.path.append("offer:time")
            return state, BookCallback(state.queue_id, number, near=near)
    reason = "ivr_time_not_understood" if speech else ("ivr_not_a_choice" if digits else "ivr_not_heard")
    if state.retries < 1:
        state.retries += 1
        return state, _ask_offer(state, facts, now, [_say(state, reason)])
    return _no_booking(state, facts, now, [_say(state, reason)])


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
            return state, _confirm_number(state, [])
    if state.retries < 1:
        state.retries += 1
        return state, _ask_number(state, [_say(state, refusal)])
    state.step = "offer"
    state.retries = 0
    return state, _ask_offer(state, facts, now, [_say(state, refusal)])


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
        return state, _ask_offer(state, facts, now, [])
    if digits == "2" or answer is False:
        state.pending_number = None
        state.step = "number"
        state.retries = 0
        state.path.append("number:again")
        return state, _ask_number(state, [])
    reason = "ivr_not_a_choice" if digits or speech else "ivr_not_heard"
    if state.retries < 1 and state.pending_number:
        state.retries += 1
        return state, _confirm_number(state, [_say(state, reason)])
    # Not confirmed: the callback stays on the number it was on.
    state.pending_number = None
    state.step = "offer"
    state.retries = 0
    return state, _ask_offer(state, facts, now, [_say(state, reason)])


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
        return _next_stage(state, facts, now, [_say(state, "ivr_incident_subscribed")])
    if isinstance(event, Routed):
        return _on_routed(state, event, facts, now)
    if isinstance(event, SlotsOffered):
        state.queue_id = event.queue_id
        if not event.offers:
            state.outcome = "answered"
            window = _promise_window_text(state, facts, now)
            return state, Goodbye((_say(state, "ivr_no_callback_slot"), _say(state, "ivr_promise_kept", window=window)))
        _store_offers(state, event.offers)
        state.step = "offer"
        state.retries = 0
        return state, _ask_offer(state, facts, now, [])
    if isinstance(event, Booked):
        state.outcome = "callback_booked"
        state.step = "done"
        state.path.append("booked")
        window = format_window(event.start, event.end, facts.zone, state.language, now)
        line = _say(state, "ivr_booked", window=window, number=spoken_digits(event.number))
        return state, Goodbye((line,))
    if isinstance(event, NotBooked):
        state.path.append(f"not-booked:{event.reason}")
        if event.reason == "busy":
            state.outcome = "answered"
            return state, Goodbye((_say(state, "ivr_promise_busy"),))
        if event.reason == "number" and not state.moving and state.retries < 1:
            state.retries += 1
            _store_offers(state, event.offers or state.choices())
            state.step = "number"
            return state, _ask_number(state, [_say(state, event.refusal or "ivr_number_unusable")])
        if event.offers and state.retries < 1:
            state.retries += 1
            _store_offers(state, event.offers)
            state.step = "offer"
            key = "ivr_slot_taken" if event.reason == "slot_taken" else event.refusal or "ivr_number_unusable"
            return state, _ask_offer(state, facts, now, [_say(state, key)])
        return _no_booking(state, facts, now, [_say(state, "ivr_no_callback_slot")])
    if isinstance(event, PromiseCancelled):
        state.outcome = "answered"
        state.step = "done"
        window = format_window(event.start, event.end, facts.zone, state.language, now)
        return state, Goodbye((_say(state, "ivr_promise_cancelled", window=window),))
    if isinstance(event, PromiseGone):
        state.promise_id = None
        state.step = "problem"
        state.path.append("promise:gone")
        return state, _ask_problem(state, facts, [_say(state, "ivr_promise_gone")])
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
        lead.append(_say(state, "ivr_to_person"))
    if routed.announcement:
        text = routed.announcement.get(state.language) or next(iter(routed.announcement.values()), "")
        if text:
            lead.append(Line(text, state.language))
    if routed.open and not routed.offer_callback_first:
        return state, _enqueue(state, [*lead, _say(state, "ivr_connecting"), *_estimate(state, routed.wait_seconds)])
    if facts.number and routed.offers:
        state.step = "offer"
        state.retries = 0
        lead.extend([_say(state, "ivr_closed")] if not routed.open else _estimate(state, routed.wait_seconds))
        state.path.append("offer")
        return state, _ask_offer(state, facts, now, lead)
    if routed.open:
        return state, _enqueue(state, [*lead, _say(state, "ivr_connecting"), *_estimate(state, routed.wait_seconds)])
    lead.append(_say(state, "ivr_closed"))
    return _no_booking(state, facts, now, lead)


def _no_booking(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Transition:
    """No callback was booked: wait in the queue while open, else a person or a concrete time to call."""
    if state.moving and state.promise_window:
        state.outcome = "answered"
        window = _promise_window_text(state, facts, now)
        return state, Goodbye((*lead, _say(state, "ivr_promise_kept", window=window)))
    if state.queue_open and state.queue_name:
        return state, _enqueue(state, [*lead, _say(state, "ivr_connecting")])
    if facts.overflow_number:
        state.outcome = "transferred"
        state.path.append("overflow")
        return state, Transfer((*lead, _say(state, "ivr_fallback_overflow")), facts.overflow_number)
    opens_at = datetime.fromisoformat(state.opens_at) if state.opens_at else None
    if opens_at is not None:
        return state, _goodbye(
            state, [*lead, _say(state, "ivr_open_again", moment=_moment(opens_at, facts, state, now))]
        )
    again = now + CALL_AGAIN_AFTER
    return state, _goodbye(
        state, [*lead, _say(state, "ivr_call_again_at", clock=format_clock(again, facts.zone, state.language))]
    )


def _ask_offer(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Ask:
    offers = state.choices()
    first = offers[0]
    lines = [
        *lead,
        _say(state, "ivr_offer", window=format_window(first.start, first.end, facts.zone, state.language, now)),
    ]
    first_day = format_day(first.start, facts.zone, state.language, now)
    others = "".join(
        t(
            state.language,
            "ivr_offer_other",
            digit=index,
            moment=(
                format_clock(offer.start, facts.zone, state.language)
                if format_day(offer.start, facts.zone, state.language, now) == first_day
                else format_moment(offer.start, facts.zone, state.language, now)
            ),
        )
        for index, offer in enumerate(offers[1:3], start=2)
    )
    lines.append(_say(state, "ivr_offer_keys", others=others))
    if not state.moving:
        lines.append(_say(state, "ivr_offer_other_number"))
        if state.queue_open:
            lines.append(_say(state, "ivr_offer_wait"))
    return Ask(tuple(lines), "offer", state.language, num_digits=1, timeout=6)


def _ask_number(state: FlowState, lead: list[Line]) -> Ask:
    lines = (*lead, _say(state, "ivr_ask_number"))
    return Ask(lines, "number", state.language, speech=False, timeout=10, finish_on_key="#")


def _confirm_number(state: FlowState, lead: list[Line]) -> Ask:
    number = spoken_digits(state.pending_number or "")
    lines = (*lead, _say(state, "ivr_confirm_number", number=number))
    return Ask(lines, "number_confirm", state.language, num_digits=1, timeout=6)


def _enqueue(state: FlowState, lines: list[Line]) -> Enqueue:
    state.step = "queued"
    state.outcome = "queued"
    state.path.append("queued")
    return Enqueue(tuple(lines), state.queue_name or "")


def _estimate(state: FlowState, seconds: int) -> list[Line]:
    if seconds <= 0:
        return [_say(state, "ivr_wait_none")]
    minutes = max(1, math.ceil(seconds / 60))
    if minutes == 1:
        return [_say(state, "ivr_wait_estimate_one")]
    return [_say(state, "ivr_wait_estimate", minutes=minutes)]


def _goodbye(state: FlowState, lines: list[Line]) -> Goodbye:
    state.step = "done"
    return Goodbye((*lines, _say(state, "ivr_goodbye")))


# --- waiting, whisper and apology -----------------------------------------------------------------------------------


def wait_prompt(
    state: FlowState, *, position: int, waited_seconds: int, offer: SlotChoice | None, zone: str, now: datetime
) -> Ask:
    """One loop of the hold message: position, a concrete estimate, and a callback instead."""
    remaining = max(60, state.wait_seconds - waited_seconds) if state.wait_seconds > 0 else 60
    lines = [_say(state, "ivr_wait_position", position=max(1, position)), *_estimate(state, remaining)]
    if offer is not None:
        lines.append(_say(state, "ivr_wait_offer", moment=format_moment(offer.start, zone, state.language, now)))
    return Ask(tuple(lines), "queued", state.language, speech=False, num_digits=1, timeout=15, act_on_silence=False)


def whisper_text(language: str, *, name: str | None, problem: str | None, repeat_count: int) -> str:
    """What the agent hears before taking the call: who, about what, which contact this week."""
    nth_number = repeat_count + 1
    nth = t(language, f"ivr_ordinal_{nth_number}") if nth_number <= 5 else t(language, "ivr_ordinal_many", n=nth_number)
    return t(
        language,
        "ivr_whisper",
        name=name or t(language, "ivr_whisper_unknown_caller"),
        problem=problem or t(language, "ivr_whisper_no_problem"),
        nth=nth,
    )


def apology(
    language: str,
    *,
    overflow_number: str | None,
    callback: tuple[datetime, datetime] | None,
    zone: str,
    now: datetime,
) -> Action:
    """Something broke on our side: say so, then a person on the overflow line or a concrete time."""
    say = [Line(t(language, "ivr_apology"), language)]
    if overflow_number:
        return Transfer((*say, Line(t(language, "ivr_fallback_overflow"), language)), overflow_number)
    if callback is not None:
        window = format_window(callback[0], callback[1], zone, language, now)
        return Goodbye((*say, Line(t(language, "ivr_fallback_callback", window=window), language)))
    again = format_clock(now + CALL_AGAIN_AFTER, zone, language)
    return Goodbye((*say, Line(t(language, "ivr_call_again_at", clock=again), language)))


def language_for(stored: str | None, region: str | None) -> str:
    """The caller's stored preference, else Dutch for numbers from NL and BE, English otherwise."""
    if stored in SPEECH_LANGUAGES:
        return stored
    if region is None:
        return "nl"
    return "nl" if region in {"NL", "BE"} else "en"
