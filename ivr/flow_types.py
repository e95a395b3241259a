"""The voice menu's vocabulary: the facts the service loads, what the caller hears (actions), what
the service must do (commands), what happened (events), and the state kept on the CallSession.

All plain data: ivr/flow.py decides with it, ivr/prompts.py words it, the webhooks render it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

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
TRANSCRIPT_SEPARATOR = " / "  # between the caller's answers in the words kept for the agent


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
    texted: bool  # a confirmation SMS goes out; if not (a landline, or STOP), the time is said twice
    instead: bool = False  # the slot chosen was taken meanwhile: this is the nearest one with room


@dataclass(frozen=True)
class NotBooked:
    reason: str  # no_slot, number, busy
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
    requested_at: str | None = None  # ISO: a callback time asked for at the problem question
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
