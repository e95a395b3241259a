"""Where a contact goes: the routing snapshot read in one transaction, the live rules, the decision.

`route_contact` reads what the rules need (the caller, their repeat history, queues and agents,
incidents), decides with `routing.decision.evaluate_rules` and records the decision on the contact.
The caller's words, when routing has to find the intent itself, are classified exactly as a live
call classifies them (`classify_intent`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, String, bindparam, func, select
from sqlalchemy.orm import Session

from callbacks.models import IS_OPEN_PROMISE, CallbackPromise
from routing.classify import Classification, IntentPhrases, classify
from routing.config import STAMP_TOKEN, CenterConfig, IncidentConfig, IntentConfig, center_config, center_config_at
from routing.decision import evaluate_rules
from routing.history import HistoryEntry, history_facts, repeat_history
from routing.live_state import center_state
from routing.models import Caller, Contact
from routing.repeats import REPEAT_WINDOW_DAYS
from routing.rule_sets import live_rules
from routing.snapshot import DEFAULT_PREFERRED_WAIT_SECONDS, CallerFacts, Decision, QueueFacts, RoutingSnapshot
from terugbel.clock import ensure_utc
from terugbel.db import plain_rows
from terugbel.logs import get_logger
from terugbel.phone import region_of, try_e164

log = get_logger(__name__)

GENERAL_QUEUE = "algemeen"  # where a contact without a known intent goes, when such a queue exists


class UnknownIntent(LookupError):
    """The intent name is not one of the active intents."""


class RoutedCaller(NamedTuple):
    """The known caller as routing reads them: plain columns, no ORM entity."""

    id: int
    number: str
    name: str | None
    language: str | None
    vip: bool
    products: list[str] | None

    @classmethod
    def of(cls, row: Any) -> RoutedCaller | None:
        """The caller in a row that selected ROUTED_CALLER_COLUMNS (outer-joined: None when unknown)."""
        if row.id is None:
            return None
        return cls(row.id, row.number, row.name, row.language, bool(row.vip), row.products)


# What a statement selects for RoutedCaller.of: routing's reads and the phone menu's.
ROUTED_CALLER_COLUMNS = (Caller.id, Caller.number, Caller.name, Caller.language, Caller.vip, Caller.products)


@dataclass(frozen=True)
class SnapshotInputs:
    """What the snapshot was built from, for the dry run's answer."""

    caller: RoutedCaller | None
    intent: IntentConfig | None
    incidents: list[IncidentConfig] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)


def load_snapshot(
    session: Session,
    *,
    caller: RoutedCaller | None,
    has_open_promise: bool,
    number: str | None,
    intent: IntentConfig | None,
    language: str | None,
    now: datetime,
    exclude_contact_id: int | None = None,
    window_days: int = REPEAT_WINDOW_DAYS,
    preferred_wait_seconds: int = DEFAULT_PREFERRED_WAIT_SECONDS,
    zone: str = "Europe/Amsterdam",
) -> tuple[RoutingSnapshot, SnapshotInputs]:
    """Everything else evaluate_rules needs, read in this transaction (the caller comes from routed_caller)."""
    now = ensure_utc(now)
    center = center_state(session, now)
    queues = {
        s.name: QueueFacts(
            id=s.id,
            name=s.name,
            skill=s.skill,
            open=s.open,
            wait_estimate_seconds=s.wait_estimate_seconds,
            wait_threshold_seconds=s.wait_threshold_seconds,
            overflow_queue=s.overflow_queue,
            label=s.label,
        )
        for s in center.queues
    }
    agents = {a.id: a for a in center.agents}
    number = caller.number if caller is not None else number
    intent_name = intent.name if intent is not None else None
    history: list[HistoryEntry] = []
    if caller is not None:
        history = repeat_history(session, caller.id, intent, now, window_days, exclude_contact_id=exclude_contact_id)
    incidents = active_incidents_for(session, caller if caller is not None else number, now)
    default_queue = _default_queue(intent, queues)
    snapshot = RoutingSnapshot(
        now=now,
        zone=zone,
        language=language_of(language, caller),
        intent=intent_name,
        default_queue=default_queue,
        queues=queues,
        agents=agents,
        caller=CallerFacts(
            caller_id=caller.id if caller is not None else None,
            number=number,
            region=region_of(number) if number else None,
            vip=bool(caller.vip) if caller is not None else False,
            has_open_promise=has_open_promise,
            incident_ids=tuple(i.id for i in incidents),
        ),
        history=history_facts(history, intent_name, window_days),
        preferred_wait_seconds=preferred_wait_seconds,
    )
    return snapshot, SnapshotInputs(caller=caller, intent=intent, incidents=incidents, history=history)


def routed_caller(session: Session, caller_id: int | None, number: str | None) -> tuple[RoutedCaller | None, bool]:
    """The caller with `caller_id` (else with this number, any format) and whether the number has
    an open callback promise.

    One statement, which also reads the configuration stamp: the first of a decision's reads, so
    the rest of the transaction uses the kept configuration without reading it again.
    """
    e164 = try_e164(number) if number else None
    params = {"caller_id": caller_id, "number": e164 or number}
    row = plain_rows(session, _CALLER_BY_ID if caller_id is not None else _CALLER_BY_NUMBER, params).one()
    if row.id is None and caller_id is not None and e164:
        row = plain_rows(session, _CALLER_BY_NUMBER, params).one()  # an id that is gone: try the number
    center_config_at(session, row.stamp)
    return RoutedCaller.of(row), bool(row.has_open_promise)


def _routed_caller_statement(match: Any) -> Select[Any]:
    number = func.coalesce(Caller.number, _ROUTED.c.number)
    open_promise = select(CallbackPromise.id).where(CallbackPromise.number == number, IS_OPEN_PROMISE)
    return (
        select(STAMP_TOKEN.label("stamp"), *ROUTED_CALLER_COLUMNS, open_promise.exists().label("has_open_promise"))
        .select_from(_ROUTED)
        .outerjoin(Caller, match)
    )


# A one-row derived table holding what is known of the contact, so an unknown caller still gets
# the row with the stamp and the open-promise fact.
_ROUTED = select(
    bindparam("caller_id", type_=Integer).label("caller_id"), bindparam("number", type_=String(20)).label("number")
).subquery("routed")
_CALLER_BY_ID = _routed_caller_statement(Caller.id == _ROUTED.c.caller_id)
_CALLER_BY_NUMBER = _routed_caller_statement(Caller.number == _ROUTED.c.number)


def _default_queue(intent: IntentConfig | None, queues: dict[str, QueueFacts]) -> str:
    by_id = {q.id: q.name for q in queues.values()}
    if intent is not None and intent.queue_id in by_id:
        return by_id[intent.queue_id]
    if GENERAL_QUEUE in queues:
        return GENERAL_QUEUE
    return by_id[min(by_id)] if by_id else ""


def language_of(language: str | None, caller: RoutedCaller | None) -> str:
    """The language the contact is in: the one given, else the caller's own, else Dutch."""
    return language or (caller.language if caller is not None else None) or "nl"


def classify_words(config: CenterConfig, words: str | None, language: str) -> Classification:
    """Classify the caller's words as a live call does: the menu's intents, their phrases in the
    call's language, the same scores and thresholds (`routing.classify`).

    Typed words carry no speech confidence, so they count as heard with full confidence.
    """
    intents = [
        IntentPhrases(i.name, i.phrases_en if language == "en" else i.phrases_nl) for i in config.menu_intents
    ]
    return classify(words, intents)


def intent_named(session: Session, intent_name: str) -> IntentConfig:
    """The intent with this name; raise UnknownIntent when there is none."""
    intent = center_config(session).intent_named(intent_name)
    if intent is None:
        raise UnknownIntent(f"unknown intent '{intent_name}'")
    return intent


class HeardIntent(NamedTuple):
    """The intent a live call takes from the caller's words, and whether it asks them to confirm it first."""

    intent: IntentConfig | None  # None: the words match no intent
    confirm_first: bool


def classify_intent(session: Session, words: str | None, language: str) -> HeardIntent:
    """The intent a live call takes from these words (`classify_words`).

    A sure classification routes at once; a candidate that is not sure is what the call proposes in
    its confirmation question ("I understood: …"), so it is the intent the contact goes with when
    the caller says yes.
    """
    config = center_config(session)
    found = classify_words(config, words, language)
    if found.intent is None:
        return HeardIntent(None, confirm_first=False)
    return HeardIntent(config.intent_named(found.intent), confirm_first=not found.sure)


def route_contact(
    session: Session,
    *,
    caller_id: int | None,
    intent_name: str | None,
    words: str | None,
    language: str | None,
    now: datetime,
    contact_id: int | None = None,
    number: str | None = None,
    window_days: int = REPEAT_WINDOW_DAYS,
    preferred_wait_seconds: int = DEFAULT_PREFERRED_WAIT_SECONDS,
    zone: str = "Europe/Amsterdam",
) -> Decision:
    """Decide where a contact goes with the live rules, and record it on the contact when given.

    Without an intent name the words are classified as a live call would (`classify_intent`).
    An unknown intent name, or words that match no intent, route by the general queue.
    """
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    if caller_id is None and contact is not None:
        caller_id = contact.caller_id
    caller, has_open_promise = routed_caller(session, caller_id, number)
    intent: IntentConfig | None = None
    if intent_name:
        try:
            intent = intent_named(session, intent_name)
        except UnknownIntent:
            log.warning("routing an unknown intent by the general queue", intent=intent_name)
    elif words:
        intent = classify_intent(session, words, language_of(language, caller)).intent
    snapshot, _ = load_snapshot(
        session,
        caller=caller,
        has_open_promise=has_open_promise,
        number=number,
        intent=intent,
        language=language,
        now=now,
        exclude_contact_id=contact_id,
        window_days=window_days,
        preferred_wait_seconds=preferred_wait_seconds,
        zone=zone,
    )
    decision = evaluate_rules(live_rules(session), snapshot)
    if contact is not None:
        contact.queue_id = decision.queue_id
        contact.priority = decision.priority
        contact.routing_explanation = decision.explanation
        contact.routed_at = ensure_utc(now)
        if intent is not None and contact.intent_id is None:
            contact.intent_id = intent.id
        session.flush()
    log.info(
        "contact routed",
        contact_id=contact_id,
        queue=decision.queue_name,
        rule=decision.rule_name,
        priority=decision.priority,
        repeat_count=decision.repeat_count,
    )
    return decision


def active_incidents_for(
    session: Session, caller: Caller | RoutedCaller | str | None, now: datetime
) -> list[IncidentConfig]:
    """Active incidents that match the caller: everyone, a number prefix, or one of their products."""
    number = caller if isinstance(caller, str) else (caller.number if caller is not None else None)
    products = (caller.products or []) if caller is not None and not isinstance(caller, str) else []
    return [i for i in center_config(session).active_incidents(now) if i.matches(number, products)]

