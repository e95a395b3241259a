"""Routing services: callers and their history, the routing snapshot, rule-set versions, dry runs.

Each function takes a Session inside the caller's transaction (`with db.session() as session:`) and
only flushes: the transaction commits or rolls back as one, with the audit entries it added.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from callbacks.models import IS_OPEN_PROMISE, CallbackPromise
from routing.config import STAMP_TOKEN, CenterConfig, IncidentConfig, IntentConfig, center_config, center_config_at
from routing.decision import (
    DEFAULT_PREFERRED_WAIT_SECONDS,
    AgentFacts,
    CallerFacts,
    Decision,
    HistoryFacts,
    QueueFacts,
    RoutingSnapshot,
    evaluate_rules,
)
from routing.models import (
    Agent,
    AgentState,
    Caller,
    Contact,
    ContactOutcome,
    Intent,
    Queue,
    QueueEntry,
    QueueEntryState,
    RuleSetVersion,
    Shift,
)
from routing.repeats import REPEAT_WINDOW_DAYS, makes_repeat
from routing.rule_parsing import parse_rule_set
from routing.rule_validation import validate_rule_set
from routing.rules import InvalidRuleSet, RuleError, RuleSet
from routing.wait import HANDLE_SAMPLE, average_handle_seconds, estimate_wait_seconds
from terugbel.audit import record_audit
from terugbel.clock import ensure_utc
from terugbel.db import plain_rows
from terugbel.logs import get_logger
from terugbel.phone import region_of, try_e164

log = get_logger(__name__)

GENERAL_QUEUE = "algemeen"  # where a contact without a known intent goes, when such a queue exists
SERVING_STATES = (AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP)
_SERVING_VALUES = frozenset(state.value for state in SERVING_STATES)
_AVAILABLE = AgentState.AVAILABLE.value
# A callback promise kept by a dial that also left a "callback" contact is shown once: the contact.
_CALLBACK_CONTACT_SLACK = timedelta(hours=1)


class UnknownRuleSetVersion(LookupError):
    """There is no rule-set version with that number."""


class UnknownIntent(LookupError):
    """The intent name is not one of the active intents."""


# -- callers and history -------------------------------------------------------------------------


def find_caller(session: Session, number: str | None, region: str = "NL") -> Caller | None:
    """The known caller with this number (any format; parsed to E.164), or None."""
    e164 = try_e164(number, region)
    if not e164:
        return None
    return session.scalar(select(Caller).where(Caller.number == e164))


class HistoryEntry(NamedTuple):
    """One contact on a caller's timeline (a call, a kept callback, an SMS exchange…).

    A named tuple, not a frozen dataclass: every routing decision builds one per contact in the
    repeat window, and a tuple is built several times faster.
    """

    kind: str  # call, callback, sms, web
    started_at: datetime
    contact_id: int | None
    promise_id: int | None
    intent: str | None
    intent_label: str | None
    agent_id: int | None
    agent_name: str | None
    queue: str | None
    outcome: str
    resolved: bool | None
    ended_at: datetime | None = None
    routing_explanation: str | None = None
    transcript: str | None = None  # the caller's words: shown to agents, never logged


def caller_history(
    session: Session,
    caller_id: int,
    now: datetime,
    days: int = REPEAT_WINDOW_DAYS,
    *,
    exclude_contact_id: int | None = None,
) -> list[HistoryEntry]:
    """The caller's contacts of the last `days` days, newest first, kept callbacks included."""
    return _history(session, _TIMELINE, caller_id, now, days, exclude_contact_id, detailed=True)


def repeat_history(
    session: Session,
    caller_id: int,
    intent: IntentConfig | None,
    now: datetime,
    days: int = REPEAT_WINDOW_DAYS,
    *,
    exclude_contact_id: int | None = None,
) -> list[HistoryEntry]:
    """What of the caller's timeline bears on a contact about `intent` now: what routing reads.

    Only the entries that can make it a repeat (same intent, or left unresolved) and callback
    contacts (which hide their promise), without agent names, explanations or transcripts:
    `history_facts` over this list and over the whole timeline are the same.
    """
    intent_id = intent.id if intent is not None else None
    return _history(
        session, _REPEAT_TIMELINE, caller_id, now, days, exclude_contact_id, detailed=False, intent_id=intent_id
    )


def _history(
    session: Session,
    timeline: Select[Any],
    caller_id: int,
    now: datetime,
    days: int,
    exclude_contact_id: int | None,
    *,
    detailed: bool,
    **params: Any,
) -> list[HistoryEntry]:
    since = ensure_utc(now) - timedelta(days=days)
    rows = plain_rows(session, timeline, {"caller_id": caller_id, "since": since, "until": now, **params}).all()
    config = center_config(session)
    intents, queues = config.intents_by_id, config.queue_names
    callback_contacts = [row.started_at for row in rows if not row.is_promise and row.channel == "callback"]
    entries = []
    for row in rows:  # newest first
        if row.is_promise:
            if any(abs(at - row.started_at) <= _CALLBACK_CONTACT_SLACK for at in callback_contacts):
                continue  # its dial left a "callback" contact: shown once, as that contact
        elif row.id == exclude_contact_id:
            continue
        intent = intents.get(row.intent_id)
        entries.append(
            HistoryEntry(
                kind=row.channel,
                started_at=row.started_at,
                contact_id=None if row.is_promise else row.id,
                promise_id=row.id if row.is_promise else None,
                intent=intent.name if intent else None,
                intent_label=intent.label_nl if intent else None,
                agent_id=row.agent_id,
                agent_name=row.agent_name if detailed else None,
                queue=queues.get(row.queue_id),
                outcome=row.outcome,
                resolved=row.resolved,
                ended_at=row.ended_at,
                routing_explanation=row.routing_explanation if detailed else None,
                transcript=row.transcript if detailed else None,
            )
        )
    return entries


def _timeline_statement(*, detailed: bool, repeats_only: bool) -> Select[Any]:
    """Contacts and kept callbacks of a caller in a window, newest first, in one statement.

    Kept callbacks come from the promise (marked `is_promise`); `_history` hides those whose dial
    left a "callback" contact of its own. Intent and queue names come from the kept configuration,
    not from joins; only the detailed timeline joins the agent's name.
    """
    contacts = select(
        Contact.id,
        Contact.channel,
        Contact.started_at,
        Contact.ended_at,
        Contact.agent_id,
        Contact.outcome,
        Contact.resolved,
        Contact.intent_id,
        Contact.queue_id,
        false().label("is_promise"),
    ).where(
        Contact.caller_id == bindparam("caller_id"),
        Contact.started_at >= bindparam("since"),
        Contact.started_at <= bindparam("until"),
    )
    promises = select(
        CallbackPromise.id,
        literal_column("'callback'"),
        CallbackPromise.connected_at,
        CallbackPromise.ended_at,
        CallbackPromise.agent_id,
        literal_column(f"'{ContactOutcome.AGENT.value}'"),
        null(),
        CallbackPromise.intent_id,
        CallbackPromise.queue_id,
        true(),
    ).where(
        CallbackPromise.caller_id == bindparam("caller_id"),
        CallbackPromise.connected_at.is_not(None),
        CallbackPromise.connected_at >= bindparam("since"),
        CallbackPromise.connected_at <= bindparam("until"),
    )
    if repeats_only:
        # A narrowing of routing.repeats.makes_repeat (same intent, or unresolved), which still
        # decides on every row read: an entry this leaves out can never count.
        intent_id = bindparam("intent_id", type_=Integer)
        contacts = contacts.where(
            or_(Contact.intent_id == intent_id, Contact.resolved.is_(False), Contact.channel == "callback")
        )
        promises = promises.where(CallbackPromise.intent_id == intent_id)
    if detailed:
        contacts = contacts.add_columns(
            Contact.routing_explanation, Contact.transcript, Agent.name.label("agent_name")
        ).outerjoin(Agent, Agent.id == Contact.agent_id)
        promises = promises.add_columns(null(), null(), Agent.name).outerjoin(
            Agent, Agent.id == CallbackPromise.agent_id
        )
    timeline = union_all(contacts, promises).subquery("timeline")
    return select(timeline).order_by(timeline.c.started_at.desc(), timeline.c.is_promise, timeline.c.id.desc())


# Built once: SQLAlchemy then finds their compiled form in its cache.
_TIMELINE = _timeline_statement(detailed=True, repeats_only=False)
_REPEAT_TIMELINE = _timeline_statement(detailed=False, repeats_only=True)


def is_repeat_of(entry: HistoryEntry, intent_name: str | None) -> bool:
    """A contact makes the next one a repeat: same intent, or it was left unresolved."""
    return makes_repeat(entry.intent, entry.resolved, intent_name)


def history_facts(
    history: Sequence[HistoryEntry], intent_name: str | None, days: int = REPEAT_WINDOW_DAYS
) -> HistoryFacts:
    """Repeat count, last agent and team, and unresolved contacts from a timeline (newest first)."""
    earlier = [entry for entry in history if is_repeat_of(entry, intent_name)]
    last_agent = next((e.agent_id for e in earlier if e.agent_id is not None), None)
    last_queue = next((e.queue for e in earlier if e.queue is not None), None)
    return HistoryFacts(
        repeat_count=len(earlier),
        last_agent_id=last_agent,
        last_queue=last_queue,
        has_unresolved=any(e.resolved is False for e in history),
        window_days=days,
    )


def repeat_count(
    session: Session,
    caller_id: int,
    intent_name: str | None,
    now: datetime,
    days: int = REPEAT_WINDOW_DAYS,
    *,
    exclude_contact_id: int | None = None,
) -> int:
    """How many earlier contacts within `days` make a contact about `intent_name` now a repeat."""
    history = caller_history(session, caller_id, now, days, exclude_contact_id=exclude_contact_id)
    return history_facts(history, intent_name, days).repeat_count


def resolved_at_first_contact(
    session: Session, contact_id: int, now: datetime, days: int = REPEAT_WINDOW_DAYS
) -> bool | None:
    """True when no repeat followed the contact within the window (and it was not marked unresolved).

    None while the window is still running and nothing followed yet: it may still be repeated.
    """
    contact = session.get(Contact, contact_id)
    if contact is None or contact.caller_id is None:
        return None
    if contact.resolved is False:
        return False
    intent_name = session.scalar(select(Intent.name).where(Intent.id == contact.intent_id))
    window_end = contact.started_at + timedelta(days=days)
    later = caller_history(session, contact.caller_id, min(ensure_utc(now), window_end), days)
    repeated = intent_name is not None and any(
        entry.started_at > contact.started_at and entry.contact_id != contact.id and entry.intent == intent_name
        for entry in later
    )
    if repeated:
        return False
    if ensure_utc(now) < window_end and contact.resolved is not True:
        return None
    return True


def active_incidents_for(
    session: Session, caller: Caller | RoutedCaller | str | None, now: datetime
) -> list[IncidentConfig]:
    """Active incidents that match the caller: everyone, a number prefix, or one of their products."""
    number = caller if isinstance(caller, str) else (caller.number if caller is not None else None)
    products = (caller.products or []) if caller is not None and not isinstance(caller, str) else []
    return [i for i in center_config(session).active_incidents(now) if i.matches(number, products)]


# -- the live state of queues and agents ---------------------------------------------------------


@dataclass(frozen=True)
class QueueStatus:
    """A queue as the routing sees it at one moment (also shown by /api/queues)."""

    id: int
    name: str
    label: str
    skill: str
    open: bool
    waiting: int
    available_agents: int
    serving_agents: int
    average_handle_seconds: float
    wait_estimate_seconds: int
    wait_threshold_seconds: int
    overflow_queue: str | None
    timezone: str


def agents_on_shift(session: Session, now: datetime) -> set[int]:
    return set(session.scalars(select(Shift.agent_id).where(Shift.starts_at <= now, Shift.ends_at > now).distinct()))


@dataclass(frozen=True)
class CenterState:
    """Queues and agents at one moment: what a routing snapshot and the queue board need."""

    queues: list[QueueStatus]
    agents: list[AgentFacts]  # active agents, on shift or not


def queue_statuses(session: Session, now: datetime, *, fresh: bool = False) -> list[QueueStatus]:
    """Every queue at `now`: open or closed, callers waiting, agents on shift, handle time, wait estimate.

    A dry run for another time keeps the live load (callers waiting, agent states) and judges
    hours and shifts at that time. `fresh` recomputes the handle times instead of using the ones
    measured in the last minute.
    """
    return center_state(session, now, fresh=fresh).queues


def center_state(session: Session, now: datetime, *, fresh: bool = False) -> CenterState:
    """Queues with their hours and load, agents and their shifts: the kept configuration and one query."""
    config = center_config(session)
    waiting: dict[int, int] = {}
    agents: list[AgentFacts] = []
    for agent_id, name, skills, state, on_shift, queue_waiting in plain_rows(session, _LIVE_LOAD, {"now": now}).all():
        if queue_waiting is None:
            agents.append(_agent_facts(agent_id, name, skills, state, on_shift))
        else:
            waiting[agent_id] = queue_waiting  # a queue's row: its id and callers waiting
    # Per skill, once over the agents: how many on shift serve, and how many of them are free.
    serving_by_skill: Counter[str] = Counter()
    available_by_skill: Counter[str] = Counter()
    for agent in agents:
        if agent.on_shift and agent.state in _SERVING_VALUES:
            serving_by_skill.update(agent.skills)
            if agent.state == _AVAILABLE:
                available_by_skill.update(agent.skills)
    names = config.queue_names
    handle_times = _handle_times(session, config, now, fresh)
    statuses = []
    for queue in config.queues:
        serving, available = serving_by_skill[queue.skill], available_by_skill[queue.skill]
        aht = handle_times[queue.id]
        queue_waiting = waiting.get(queue.id, 0)
        statuses.append(
            QueueStatus(
                id=queue.id,
                name=queue.name,
                label=queue.label,
                skill=queue.skill,
                open=queue.is_open(now),
                waiting=queue_waiting,
                available_agents=available,
                serving_agents=serving,
                average_handle_seconds=aht,
                wait_estimate_seconds=estimate_wait_seconds(
                    waiting=queue_waiting,
                    available_agents=available,
                    serving_agents=serving,
                    aht_seconds=aht,
                ),
                wait_threshold_seconds=queue.wait_threshold_seconds,
                overflow_queue=names.get(queue.overflow_queue_id) if queue.overflow_queue_id else None,
                timezone=queue.timezone,
            )
        )
    return CenterState(queues=statuses, agents=agents)


# The live load in one statement: every active agent (with "on shift now"), then a row per queue
# with callers waiting, told apart by the last column (NULL for agents). Built once, so SQLAlchemy
# finds its compiled form in its cache.
_LIVE_LOAD = union_all(
    select(
        Agent.id,
        Agent.name,
        cast(Agent.skills, Text),  # decoded by _agent_facts, once per distinct row
        Agent.state,
        select(Shift.id)
        .where(Shift.agent_id == Agent.id, Shift.starts_at <= bindparam("now"), Shift.ends_at > bindparam("now"))
        .exists()
        .label("on_shift"),
        null().label("waiting"),
    ).where(Agent.active.is_(True)),
    select(
        QueueEntry.queue_id,
        null(),
        null(),
        null(),
        null(),
        func.count(QueueEntry.id),
    )
    .where(QueueEntry.state == QueueEntryState.WAITING.value)
    .group_by(QueueEntry.queue_id),
)


@lru_cache(maxsize=4096)
def _agent_facts(agent_id: int, name: str, skills: str | None, state: str, on_shift: bool) -> AgentFacts:
    """An agent's row as routing sees it, built once per distinct row.

    Between two decisions most agents' rows are the same (name, skills, state, on shift), and
    decoding sixty agents' skills on every call was a tenth of a decision.
    """
    return AgentFacts(agent_id, name, frozenset(json.loads(skills)) if skills else frozenset(), state, bool(on_shift))


# Handle times move slowly (a mean over the last 50 contacts), so each process measures a queue's
# at most once a minute instead of on every decision, and again as soon as the configuration
# changed (a new stamp: also what an emptied and refilled database shows).
HANDLE_TIME_REFRESH = timedelta(seconds=60)
_handle_time_cache: dict[tuple[URL, str, int, int], tuple[datetime, float]] = {}


def _handle_times(session: Session, config: CenterConfig, now: datetime, fresh: bool) -> dict[int, float]:
    # Without a stamp nothing tells an emptied database from the one measured: measure every time.
    keep = not fresh and config.token is not None
    database = session.get_bind().engine.url
    result: dict[int, float] = {}
    for queue in config.queues:
        key = (database, config.token or "", queue.id, queue.default_handle_seconds)
        measured = _handle_time_cache.get(key)
        if keep and measured is not None and timedelta(0) <= now - measured[0] < HANDLE_TIME_REFRESH:
            result[queue.id] = measured[1]
            continue
        mean = average_handle_seconds(_recent_handle_times(session, queue.id), queue.default_handle_seconds)
        if keep:
            if len(_handle_time_cache) > 1024:
                _handle_time_cache.clear()
            _handle_time_cache[key] = (now, mean)
        result[queue.id] = mean
    return result


def _recent_handle_times(session: Session, queue_id: int) -> list[float]:
    """Durations of the queue's latest contacts that reached an agent, newest first (routing.wait)."""
    connected_at = (
        select(func.max(QueueEntry.left_at))
        .where(QueueEntry.contact_id == Contact.id, QueueEntry.state == QueueEntryState.CONNECTED.value)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Contact.routed_at, Contact.started_at, Contact.ended_at, connected_at)
        .where(
            Contact.queue_id == queue_id,
            Contact.outcome == ContactOutcome.AGENT.value,
            Contact.ended_at.is_not(None),
        )
        .order_by(Contact.ended_at.desc())
        .limit(HANDLE_SAMPLE)
    ).all()
    durations = []
    for routed_at, started_at, ended_at, connected in rows:
        start = connected or routed_at or started_at
        durations.append((ended_at - start).total_seconds())
    return durations


# -- rule-set versions ---------------------------------------------------------------------------


def live_rule_set(session: Session) -> RuleSetVersion | None:
    """The live version (the highest), or None before anything was published."""
    return session.scalar(select(RuleSetVersion).order_by(RuleSetVersion.version.desc()).limit(1))


def live_rules(session: Session) -> RuleSet:
    """The live rules, parsed; an empty set before the first publish."""
    return center_config(session).rules


def list_versions(session: Session) -> list[RuleSetVersion]:
    """Every version, newest first."""
    return list(session.scalars(select(RuleSetVersion).order_by(RuleSetVersion.version.desc())))


def check_rule_set(session: Session, rules: Any) -> list[RuleError]:
    """Validate rules against the queues, active agents and active intents that exist now."""
    known_queues = set(session.scalars(select(Queue.name)))
    known_agents = set(session.scalars(select(Agent.id).where(Agent.active.is_(True))))
    known_intents = set(session.scalars(select(Intent.name).where(Intent.active.is_(True))))
    return validate_rule_set(rules, known_queues, known_agents, known_intents)


def publish_rule_set(
    session: Session, rules: Any, actor: str, now: datetime, note: str | None = None
) -> RuleSetVersion:
    """Validate `rules` and make them the live version; raise InvalidRuleSet and change nothing if bad."""
    errors = check_rule_set(session, rules)
    if errors:
        raise InvalidRuleSet(errors)
    version = _add_version(session, rules, actor, now, note, rolled_back_from=None)
    record_audit(
        session,
        at=now,
        actor=actor,
        action="routing.rules.publish",
        subject=f"rule set version {version.version}",
        details={"version": version.version, "rules": len(rules), "note": note},
    )
    return version


def rollback_rule_set(session: Session, to_version: int, actor: str, now: datetime) -> RuleSetVersion:
    """Publish a new version holding the rules of `to_version`; history only grows."""
    old = session.scalar(select(RuleSetVersion).where(RuleSetVersion.version == to_version))
    if old is None:
        raise UnknownRuleSetVersion(f"there is no rule set version {to_version}")
    errors = check_rule_set(session, old.rules)
    if errors:
        # The old rules name something deleted since: they must not go live.
        raise InvalidRuleSet(errors)
    previous = live_rule_set(session)
    version = _add_version(
        session, old.rules, actor, now, f"rollback to version {to_version}", rolled_back_from=to_version
    )
    record_audit(
        session,
        at=now,
        actor=actor,
        action="routing.rules.rollback",
        subject=f"rule set version {version.version}",
        details={
            "version": version.version,
            "restored_version": to_version,
            "replaced_version": previous.version if previous else None,
        },
    )
    return version


def _add_version(
    session: Session, rules: Any, actor: str, now: datetime, note: str | None, rolled_back_from: int | None
) -> RuleSetVersion:
    latest = session.scalar(select(func.max(RuleSetVersion.version))) or 0
    version = RuleSetVersion(
        version=latest + 1,
        rules=rules,
        created_at=now,
        created_by=actor,
        note=note,
        rolled_back_from=rolled_back_from,
    )
    session.add(version)
    session.flush()
    return version


# -- the decision --------------------------------------------------------------------------------

_WORD = re.compile(r"[^\w\s]")


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_WORD.sub(" ", stripped).split())


def intent_from_words(session: Session, words: str, language: str | None = None) -> IntentConfig | None:
    """The active intent whose phrase occurs in the caller's words (the longest phrase wins).

    A plain keyword match for dry runs and as a fallback; the IVR's classifier (ivr/classify.py)
    handles the caller's speech during a call.
    """
    spoken = f" {_normalise(words)} "
    best: tuple[int, IntentConfig] | None = None
    for intent in center_config(session).intents:
        if not intent.active:
            continue
        phrases = intent.phrases_en + intent.phrases_nl if language == "en" else intent.phrases_nl + intent.phrases_en
        for phrase in phrases:
            normal = _normalise(phrase)
            if normal and f" {normal} " in spoken and (best is None or len(normal) > best[0]):
                best = (len(normal), intent)
    return best[1] if best else None


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
        language=language or (caller.language if caller is not None else None) or "nl",
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


def _intent(session: Session, intent_name: str | None, words: str | None, language: str | None) -> IntentConfig | None:
    if intent_name:
        intent = center_config(session).intent_named(intent_name)
        if intent is None:
            raise UnknownIntent(f"unknown intent '{intent_name}'")
        return intent
    if words:
        return intent_from_words(session, words, language)
    return None


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

    An unknown intent name, or words that match no intent, route by the general queue.
    """
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    if caller_id is None and contact is not None:
        caller_id = contact.caller_id
    caller, has_open_promise = routed_caller(session, caller_id, number)
    try:
        intent = _intent(session, intent_name, words, language)
    except UnknownIntent:
        log.warning("routing an unknown intent by the general queue", intent=intent_name)
        intent = None
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


@dataclass(frozen=True)
class DryRun:
    decision: Decision
    intent: str | None
    caller_known: bool
    caller_name: str | None
    incidents: list[str]
    rule_set_version: int | None  # None: a draft


def dry_run(
    session: Session,
    *,
    number: str | None,
    intent_name: str | None = None,
    words: str | None = None,
    at: datetime,
    rules: Any = None,
    language: str | None = None,
    region: str = "NL",
    zone: str = "Europe/Amsterdam",
    window_days: int = REPEAT_WINDOW_DAYS,
    preferred_wait_seconds: int = DEFAULT_PREFERRED_WAIT_SECONDS,
) -> DryRun:
    """Decide for a pretend contact against the live rules or a draft, recording nothing.

    Raises InvalidRuleSet for a draft that does not validate, UnknownIntent for an unknown name.
    """
    if rules is not None:
        errors = check_rule_set(session, rules)
        if errors:
            raise InvalidRuleSet(errors)
        rule_set = parse_rule_set(rules)
        version = None
    else:
        rule_set = live_rules(session)
        version = rule_set.version
    e164 = try_e164(number, region) if number else None
    caller, has_open_promise = routed_caller(session, None, e164) if e164 else (None, False)
    intent = _intent(session, intent_name, words, language)
    snapshot, inputs = load_snapshot(
        session,
        caller=caller,
        has_open_promise=has_open_promise,
        number=e164,
        intent=intent,
        language=language,
        now=at,
        window_days=window_days,
        preferred_wait_seconds=preferred_wait_seconds,
        zone=zone,
    )
    return DryRun(
        decision=evaluate_rules(rule_set, snapshot),
        intent=intent.name if intent is not None else None,
        caller_known=caller is not None,
        caller_name=caller.name if caller is not None else None,
        incidents=[i.title for i in inputs.incidents],
        rule_set_version=version,
    )
