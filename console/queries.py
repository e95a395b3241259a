"""Read-only queries behind the console's pages and JSON (no writes here: services own those).

Each function takes a session and `now` and returns plain dataclasses, so views and the JSON API
render the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from callbacks.models import OPEN_PROMISE_STATES, CallbackPromise, PromiseState
from console.metrics import REPEAT_WINDOW, ContactFact, PromiseFact
from ivr.models import CallSession
from routing.history import caller_history
from routing.live_state import queue_statuses
from routing.models import (
    Agent,
    Caller,
    Contact,
    ContactOutcome,
    Incident,
    IncidentState,
    Intent,
    Queue,
    QueueEntry,
    QueueEntryState,
    Shift,
)

HISTORY_DAYS = 7
TIMELINE_LENGTH = 10
TIMELINE_DAYS = 90
_OPEN = [state.value for state in OPEN_PROMISE_STATES]


@dataclass(frozen=True)
class TimelineEntry:
    contact_id: int | None
    started_at: datetime
    channel: str
    intent: str | None
    queue: str | None
    agent: str | None
    outcome: str
    resolved: bool | None
    note: str | None
    words: str | None


@dataclass(frozen=True)
class AgentCallback:
    promise_id: int
    state: str
    window_start: datetime
    window_end: datetime
    timezone: str
    language: str
    caller_name: str | None
    number: str
    problem: str | None
    intent: str | None
    queue: str
    contacts_this_week: int
    timeline: list[TimelineEntry] = field(default_factory=list)


@dataclass(frozen=True)
class PendingOutcome:
    contact_id: int
    started_at: datetime
    caller_name: str | None
    number: str | None
    intent: str | None
    words: str | None


@dataclass(frozen=True)
class AgentDesk:
    agent_id: int
    agent_name: str
    state: str
    callbacks: list[AgentCallback]
    pending_outcomes: list[PendingOutcome]


def promises_visible_to_agent(agent: Agent) -> ColumnElement[bool]:
    """The SQL condition for an agent's own callbacks.

    Own: assigned to the agent, preferred for the agent and not yet taken by another, or not yet
    assigned to anyone in a queue the agent serves (the team's callbacks the agent may make).
    """
    served = select(Queue.id).where(Queue.skill.in_(list(agent.skills or [])))
    unassigned = and_(CallbackPromise.agent_id.is_(None), CallbackPromise.preferred_agent_id.is_(None))
    return or_(
        CallbackPromise.agent_id == agent.id,
        and_(CallbackPromise.agent_id.is_(None), CallbackPromise.preferred_agent_id == agent.id),
        and_(unassigned, CallbackPromise.queue_id.in_(served)),
    )


def agent_desk(
    session: Session, agent_id: int, now: datetime, *, language: str = "nl", limit: int = 20
) -> AgentDesk | None:
    """What an agent sees: their next open callbacks with each caller's history, and outcomes to record."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        return None
    rows = session.execute(
        select(CallbackPromise, Caller, Intent, Queue)
        .join(Queue, Queue.id == CallbackPromise.queue_id)
        .outerjoin(Caller, Caller.id == CallbackPromise.caller_id)
        .outerjoin(Intent, Intent.id == CallbackPromise.intent_id)
        .where(CallbackPromise.state.in_(_OPEN), promises_visible_to_agent(agent))
        .order_by(CallbackPromise.window_start, CallbackPromise.id)
        .limit(limit)
    ).all()
    callbacks = []
    for promise, caller, intent, queue in rows:
        timeline = caller_timeline(session, caller.id, now, language) if caller is not None else []
        week_ago = now - timedelta(days=HISTORY_DAYS)
        callbacks.append(
            AgentCallback(
                promise_id=promise.id,
                state=promise.state,
                window_start=promise.window_start,
                window_end=promise.window_end,
                timezone=promise.timezone,
                language=promise.language,
                caller_name=caller.name if caller is not None else None,
                number=promise.number,
                problem=promise.problem,
                intent=_intent_label(intent, language),
                queue=queue.label,
                contacts_this_week=sum(1 for entry in timeline if entry.started_at >= week_ago),
                timeline=timeline,
            )
        )
    return AgentDesk(
        agent_id=agent.id,
        agent_name=agent.name,
        state=agent.state,
        callbacks=callbacks,
        pending_outcomes=pending_outcomes(session, agent.id, now),
    )


def caller_timeline(session: Session, caller_id: int, now: datetime, language: str = "nl") -> list[TimelineEntry]:
    """The caller's last contacts (kept callbacks included), newest first, intents in `language`."""
    history = caller_history(session, caller_id, now, days=TIMELINE_DAYS)[:TIMELINE_LENGTH]
    labels = {
        name: (label_en if language == "en" else label_nl)
        for name, label_nl, label_en in session.execute(select(Intent.name, Intent.label_nl, Intent.label_en))
    }
    return [
        TimelineEntry(
            contact_id=entry.contact_id,
            started_at=entry.started_at,
            channel=entry.kind,
            intent=labels.get(entry.intent, entry.intent_label) if entry.intent else entry.intent_label,
            queue=entry.queue,
            agent=entry.agent_name,
            outcome=entry.outcome,
            resolved=entry.resolved,
            note=notes.get(entry.contact_id) if entry.contact_id is not None else None,
            words=entry.transcript,
        )
        for notes in [_outcome_notes(session, caller_id)]
        for entry in history
    ]


def _outcome_notes(session: Session, caller_id: int) -> dict[int, str]:
    rows = session.execute(
        select(Contact.id, Contact.outcome_note).where(
            Contact.caller_id == caller_id, Contact.outcome_note.is_not(None)
        )
    ).all()
    return {contact_id: note for contact_id, note in rows if note is not None}  # always: the query asks for notes


def pending_outcomes(session: Session, agent_id: int, now: datetime) -> list[PendingOutcome]:
    """Contacts the agent handled in the last week whose outcome is not recorded yet."""
    rows = session.execute(
        select(Contact, Caller, Intent)
        .outerjoin(Caller, Caller.id == Contact.caller_id)
        .outerjoin(Intent, Intent.id == Contact.intent_id)
        .where(
            Contact.agent_id == agent_id,
            Contact.resolved.is_(None),
            Contact.outcome == ContactOutcome.AGENT.value,
            Contact.started_at >= now - timedelta(days=HISTORY_DAYS),
        )
        .order_by(Contact.started_at.desc())
        .limit(20)
    ).all()
    return [
        PendingOutcome(
            contact_id=contact.id,
            started_at=contact.started_at,
            caller_name=caller.name if caller is not None else None,
            number=caller.number if caller is not None else None,
            intent=intent.label_nl if intent is not None else None,
            words=contact.transcript,
        )
        for contact, caller, intent in rows
    ]


def _intent_label(intent: Intent | None, language: str) -> str | None:
    if intent is None:
        return None
    return intent.label_en if language == "en" else intent.label_nl


# --- the supervisor board -----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueLine:
    queue_id: int
    name: str
    label: str
    open: bool
    waiting: int
    longest_wait_seconds: int
    wait_estimate_seconds: int
    available_agents: int
    serving_agents: int
    wait_threshold_seconds: int


@dataclass(frozen=True)
class AgentLine:
    agent_id: int
    name: str
    state: str
    since: datetime | None
    on_shift: bool
    skills: list[str]


@dataclass(frozen=True)
class PromiseLine:
    promise_id: int
    queue: str
    caller_name: str | None
    number: str
    state: str
    window_start: datetime
    window_end: datetime
    planned_dial_at: datetime
    timezone: str
    reason: str | None
    moved_by_us: bool
    at_risk: bool


@dataclass(frozen=True)
class IncidentLine:
    incident_id: int
    title: str
    started_at: datetime
    expected_fix_at: datetime | None
    match_all: bool
    match_prefixes: list[str]
    match_products: list[str]


@dataclass(frozen=True)
class WaitingLine:
    queue: str
    caller_name: str | None
    number: str | None
    priority: int
    state: str
    enqueued_at: datetime
    preferred_agent: str | None


@dataclass(frozen=True)
class Board:
    now: datetime
    in_menu: int
    queues: list[QueueLine]
    waiting: list[WaitingLine]
    agents: list[AgentLine]
    due_next_hour: list[PromiseLine]
    at_risk: list[PromiseLine]
    moved_by_us: list[PromiseLine]
    resolved_otherwise: list[PromiseLine]  # the caller reached an agent another way (last 12 hours)
    incidents: list[IncidentLine]


# A call whose menu session has not moved for this long is taken to be over (its status callback lost).
MENU_STALE_AFTER = timedelta(minutes=30)


def supervisor_board(session: Session, now: datetime) -> Board:
    """Everything the supervisor board shows, as of `now`."""
    in_menu = session.scalar(
        select(func.count())
        .select_from(CallSession)
        .join(Contact, Contact.id == CallSession.contact_id)
        .where(
            Contact.outcome == ContactOutcome.IN_PROGRESS.value,
            Contact.routed_at.is_(None),
            CallSession.updated_at >= now - MENU_STALE_AFTER,
        )
    )
    agents = _agent_lines(session, now)
    recent = CallbackPromise.window_end >= now - timedelta(hours=12)
    return Board(
        now=now,
        in_menu=int(in_menu or 0),
        queues=_queue_lines(session, now),
        waiting=_waiting_lines(session),
        agents=agents,
        due_next_hour=_promise_lines(
            session,
            CallbackPromise.state.in_(_OPEN),
            CallbackPromise.planned_dial_at < now + timedelta(hours=1),
            CallbackPromise.window_end >= now,
        ),
        at_risk=_promise_lines(session, CallbackPromise.state.in_(_OPEN), CallbackPromise.at_risk.is_(True)),
        moved_by_us=_promise_lines(session, CallbackPromise.moved_by_us.is_(True), recent),
        resolved_otherwise=_promise_lines(session, CallbackPromise.state == PromiseState.RESOLVED.value, recent),
        incidents=active_incidents(session),
    )


def _agent_lines(session: Session, now: datetime) -> list[AgentLine]:
    on_shift = set(session.scalars(select(Shift.agent_id).where(Shift.starts_at <= now, Shift.ends_at > now)).all())
    return [
        AgentLine(
            agent_id=agent.id,
            name=agent.name,
            state=agent.state,
            since=agent.state_changed_at,
            on_shift=agent.id in on_shift,
            skills=list(agent.skills or []),
        )
        for agent in session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.name))
    ]


def _queue_lines(session: Session, now: datetime) -> list[QueueLine]:
    longest = dict(
        session.execute(
            select(QueueEntry.queue_id, func.min(QueueEntry.enqueued_at))
            .where(QueueEntry.state == QueueEntryState.WAITING.value)
            .group_by(QueueEntry.queue_id)
        ).all()
    )
    return [
        QueueLine(
            queue_id=status.id,
            name=status.name,
            label=status.label,
            open=status.open,
            waiting=status.waiting,
            longest_wait_seconds=int((now - longest[status.id]).total_seconds()) if status.id in longest else 0,
            wait_estimate_seconds=status.wait_estimate_seconds,
            available_agents=status.available_agents,
            serving_agents=status.serving_agents,
            wait_threshold_seconds=status.wait_threshold_seconds,
        )
        for status in sorted(queue_statuses(session, now), key=lambda q: q.name)
    ]


def _waiting_lines(session: Session) -> list[WaitingLine]:
    """Callers waiting in a queue now, in the order they will be served (priority, then time)."""
    preferred = Agent.__table__.alias("preferred")
    rows = session.execute(
        select(QueueEntry, Queue.label, Caller.name, Caller.number, preferred.c.name)
        .join(Queue, Queue.id == QueueEntry.queue_id)
        .outerjoin(Contact, Contact.id == QueueEntry.contact_id)
        .outerjoin(Caller, Caller.id == Contact.caller_id)
        .outerjoin(preferred, preferred.c.id == QueueEntry.preferred_agent_id)
        .where(QueueEntry.state.in_([QueueEntryState.WAITING.value, QueueEntryState.RESERVED.value]))
        .order_by(QueueEntry.priority.desc(), QueueEntry.enqueued_at)
        .limit(100)
    ).all()
    return [
        WaitingLine(
            queue=label,
            caller_name=name,
            number=number,
            priority=entry.priority,
            state=entry.state,
            enqueued_at=entry.enqueued_at,
            preferred_agent=preferred_name,
        )
        for entry, label, name, number, preferred_name in rows
    ]


def _promise_lines(session: Session, *conditions: object) -> list[PromiseLine]:
    rows = session.execute(
        select(CallbackPromise, Caller, Queue)
        .join(Queue, Queue.id == CallbackPromise.queue_id)
        .outerjoin(Caller, Caller.id == CallbackPromise.caller_id)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(CallbackPromise.planned_dial_at, CallbackPromise.id)
        .limit(100)
    ).all()
    return [
        PromiseLine(
            promise_id=promise.id,
            queue=queue.label,
            caller_name=caller.name if caller is not None else None,
            number=promise.number,
            state=promise.state,
            window_start=promise.window_start,
            window_end=promise.window_end,
            planned_dial_at=promise.planned_dial_at,
            timezone=promise.timezone,
            reason=promise.reason,
            moved_by_us=promise.moved_by_us,
            at_risk=promise.at_risk,
        )
        for promise, caller, queue in rows
    ]


def active_incidents(session: Session) -> list[IncidentLine]:
    return [
        IncidentLine(
            incident_id=incident.id,
            title=incident.title,
            started_at=incident.started_at,
            expected_fix_at=incident.expected_fix_at,
            match_all=incident.match_all,
            match_prefixes=list(incident.match_prefixes or []),
            match_products=list(incident.match_products or []),
        )
        for incident in session.scalars(
            select(Incident).where(Incident.state == IncidentState.ACTIVE.value).order_by(Incident.started_at)
        )
    ]


# --- the numbers that matter --------------------------------------------------------------------


def metric_facts(
    session: Session, start: datetime, end: datetime, window: timedelta = REPEAT_WINDOW
) -> tuple[list[ContactFact], list[PromiseFact], dict[int, str]]:
    """Contacts of [start - window, end + window) (the repeat window), callbacks whose window starts
    in [start, end), queues."""
    contacts = [
        ContactFact(
            contact_id=contact.id,
            caller_id=contact.caller_id,
            queue_id=contact.queue_id,
            intent=intent_name,
            channel=contact.channel,
            outcome=contact.outcome,
            resolved=contact.resolved,
            started_at=contact.started_at,
            routed_at=contact.routed_at,
            questions_asked=contact.questions_asked,
            continues_contact_id=contact.continues_contact_id,
        )
        for contact, intent_name in session.execute(
            select(Contact, Intent.name)
            .outerjoin(Intent, Intent.id == Contact.intent_id)
            .where(Contact.started_at >= start - window, Contact.started_at < end + window)
            .order_by(Contact.started_at, Contact.id)
        ).all()
    ]
    promises = [
        PromiseFact(
            promise_id=promise.id,
            queue_id=promise.queue_id,
            state=promise.state,
            window_start=promise.window_start,
            window_end=promise.window_end,
            first_dial_at=promise.first_dial_at,
            connected_at=promise.connected_at,
            moved_by_us=promise.moved_by_us,
            contact_id=promise.contact_id,
        )
        for promise in session.scalars(
            select(CallbackPromise).where(CallbackPromise.window_start >= start, CallbackPromise.window_start < end)
        )
    ]
    queues = dict(session.execute(select(Queue.id, Queue.name)).all())
    return contacts, promises, queues
