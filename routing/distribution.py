"""Callers waiting in a queue, served by priority then waiting time, never handed out twice.

Every hand-out is a pair of conditional UPDATEs — the agent `available → reserved`, the queue entry
`waiting → reserved` — each taking effect only if the row is still in the state it was seen in.
Two web processes or workers racing for the same agent or caller: one UPDATE matches a row, the
other matches none and moves on. This holds on PostgreSQL (row locks, re-checked WHERE) and on
SQLite (one writer at a time). Candidates are read first only to know the order to try them in.

The agent's side of each move is `routing.agents`'s, the one writer of an agent's state.

The connect itself runs through the Telephony port after the transaction commits: the waiting call
is redirected to the webhook the composition root names in `Runtime.urls.queue_connect`, TwiML that
dials the agent with the whisper.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session

from routing.agents import move_agent, release_agent
from routing.models import Agent, AgentState, Contact, Queue, QueueEntry, QueueEntryState
from routing.snapshot import Decision
from telephony.port import PermanentTelephonyError, TelephonyError
from terugbel.clock import ensure_utc
from terugbel.db import rows_changed
from terugbel.logs import get_logger
from terugbel.redis_conn import DIAL_QUEUE, queue
from terugbel.runtime import CallbackWaitsFor, Runtime, current_runtime
from terugbel.unit_of_work import after_commit

log = get_logger(__name__)

CANDIDATES_PER_TRY = 20  # entries read per round; more rounds only when others keep winning
MAX_REDIRECT_TRIES = 3
OFFER_RESULT_TTL = 600  # seconds an offer job's result stays in Redis (for a look with `rq info`)


class UnknownQueueEntry(LookupError):
    """No queue entry with that id."""


@dataclass(frozen=True)
class Reservation:
    """A waiting caller held for one agent: connect `call_sid` to `agent_phone`."""

    queue_entry_id: int
    call_sid: str
    contact_id: int | None
    queue_id: int
    queue_name: str
    priority: int
    enqueued_at: datetime
    agent_id: int
    agent_name: str
    agent_phone: str
    preferred: bool  # the caller was waiting for this agent in particular


# -- joining and leaving the queue ---------------------------------------------------------------


def enqueue_caller(
    session: Session,
    *,
    call_sid: str,
    queue_id: int,
    now: datetime,
    priority: int = 0,
    contact_id: int | None = None,
    preferred_agent_id: int | None = None,
    preferred_wait_seconds: int = 0,
) -> QueueEntry:
    """Put a call in a queue; a CallSid already queued keeps its entry (webhooks can repeat)."""
    existing = session.scalar(select(QueueEntry).where(QueueEntry.call_sid == call_sid))
    if existing is not None:
        return existing
    now = ensure_utc(now)
    entry = QueueEntry(
        call_sid=call_sid,
        contact_id=contact_id,
        queue_id=queue_id,
        priority=priority,
        preferred_agent_id=preferred_agent_id,
        preferred_until=now + timedelta(seconds=preferred_wait_seconds) if preferred_agent_id else None,
        state=QueueEntryState.WAITING.value,
        enqueued_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def enqueue_decision(
    session: Session, *, call_sid: str, decision: Decision, now: datetime, contact_id: int | None = None
) -> QueueEntry:
    """Queue a call where routing decided, with its priority and preferred agent."""
    return enqueue_caller(
        session,
        call_sid=call_sid,
        queue_id=decision.queue_id,
        now=now,
        priority=decision.priority,
        contact_id=contact_id,
        preferred_agent_id=decision.preferred_agent_id,
        preferred_wait_seconds=decision.preferred_wait_seconds,
    )


def leave_queue(session: Session, call_sid: str, now: datetime) -> QueueEntry | None:
    """The caller hung up or took a callback: the entry leaves, a reserved agent is freed."""
    entry = session.scalar(select(QueueEntry).where(QueueEntry.call_sid == call_sid))
    if entry is None or entry.state in (QueueEntryState.LEFT.value, QueueEntryState.CONNECTED.value):
        return entry
    agent_id = entry.reserved_agent_id if entry.state == QueueEntryState.RESERVED.value else None
    if agent_id is not None and move_agent(session, agent_id, AgentState.RESERVED, AgentState.AVAILABLE, now):
        offer_after_commit(session, agent_id)
    entry.state = QueueEntryState.LEFT.value
    entry.left_at = ensure_utc(now)
    session.flush()
    return entry


def mark_connected(session: Session, queue_entry_id: int, now: datetime) -> QueueEntry:
    """The agent answered and the caller is connected: the agent is on the call, handle time starts."""
    entry = session.get(QueueEntry, queue_entry_id)
    if entry is None:
        raise UnknownQueueEntry(f"no queue entry {queue_entry_id}")
    if entry.state != QueueEntryState.RESERVED.value or entry.reserved_agent_id is None:
        return entry
    now = ensure_utc(now)
    entry.state = QueueEntryState.CONNECTED.value
    entry.left_at = now  # routing.handle_time measures handle time from here
    move_agent(session, entry.reserved_agent_id, AgentState.RESERVED, AgentState.ON_CALL, now)
    if entry.contact_id is not None:
        contact = session.get(Contact, entry.contact_id)
        if contact is not None:
            contact.agent_id = entry.reserved_agent_id
            contact.queue_id = entry.queue_id
    session.flush()
    return entry


def agent_did_not_answer(session: Session, queue_entry_id: int, now: datetime) -> QueueEntry:
    """The agent let it ring: set them away; the caller waits again at the head of the queue.

    The entry keeps its priority and original waiting time, so it is first in line again; a
    preferred agent who did not answer is no longer waited for.
    """
    entry = session.get(QueueEntry, queue_entry_id)
    if entry is None:
        raise UnknownQueueEntry(f"no queue entry {queue_entry_id}")
    if entry.state != QueueEntryState.RESERVED.value:
        return entry
    now = ensure_utc(now)
    agent_id = entry.reserved_agent_id
    if agent_id is not None:
        move_agent(session, agent_id, AgentState.RESERVED, AgentState.AWAY, now)
    entry.state = QueueEntryState.WAITING.value
    entry.reserved_agent_id = None
    if entry.preferred_agent_id == agent_id:
        entry.preferred_until = now
    session.flush()
    log.info("agent did not answer; caller back at the head of the queue", agent_id=agent_id, entry=entry.id)
    return entry


def release_reservation(session: Session, queue_entry_id: int, now: datetime, *, caller_gone: bool) -> None:
    """Undo a reservation that could not be connected; the agent is available again."""
    entry = session.get(QueueEntry, queue_entry_id)
    if entry is None or entry.state != QueueEntryState.RESERVED.value:
        return
    if entry.reserved_agent_id is not None:
        move_agent(session, entry.reserved_agent_id, AgentState.RESERVED, AgentState.AVAILABLE, now)
    entry.reserved_agent_id = None
    if caller_gone:
        entry.state = QueueEntryState.LEFT.value
        entry.left_at = ensure_utc(now)
    else:
        entry.state = QueueEntryState.WAITING.value
    session.flush()


def _reserve_entry(session: Session, entry_id: int, agent_id: int) -> bool:
    changed = rows_changed(
        session,
        update(QueueEntry)
        .where(QueueEntry.id == entry_id, QueueEntry.state == QueueEntryState.WAITING.value)
        .values(state=QueueEntryState.RESERVED.value, reserved_agent_id=agent_id)
        .execution_options(synchronize_session=False),
    )
    return bool(changed)


# -- the hand-out --------------------------------------------------------------------------------


def offer_agent(session: Session, agent_id: int, now: datetime) -> Reservation | None:
    """Reserve the best waiting caller for this available agent, or None (the agent stays available).

    Best: callers waiting for this agent in particular first, then by priority, then by waiting
    time. A caller waiting for another agent is skipped until their `preferred_until` passes.
    """
    now = ensure_utc(now)
    agent = session.get(Agent, agent_id)
    if agent is None or not agent.active:
        return None
    if not move_agent(session, agent_id, AgentState.AVAILABLE, AgentState.RESERVED, now):
        return None  # not available, or another process just reserved them
    skills = list(agent.skills or [])
    tried: set[int] = set()
    while True:
        query = (
            select(QueueEntry.id)
            .join(Queue, Queue.id == QueueEntry.queue_id)
            .where(
                QueueEntry.state == QueueEntryState.WAITING.value,
                or_(
                    QueueEntry.preferred_agent_id == agent_id,
                    and_(
                        Queue.skill.in_(skills),
                        or_(
                            QueueEntry.preferred_agent_id.is_(None),
                            QueueEntry.preferred_until.is_(None),
                            QueueEntry.preferred_until <= now,
                        ),
                    ),
                ),
            )
            .order_by(
                case((QueueEntry.preferred_agent_id == agent_id, 0), else_=1),
                QueueEntry.priority.desc(),
                QueueEntry.enqueued_at,
                QueueEntry.id,
            )
            .limit(CANDIDATES_PER_TRY)
        )
        if tried:
            query = query.where(QueueEntry.id.not_in(tried))
        candidates = list(session.scalars(query))
        if not candidates:
            move_agent(session, agent_id, AgentState.RESERVED, AgentState.AVAILABLE, now)
            return None
        for entry_id in candidates:
            tried.add(entry_id)
            if _reserve_entry(session, entry_id, agent_id):
                return _reservation(session, entry_id, agent)


def offer_caller(
    session: Session, queue_entry_id: int, now: datetime, *, passed_over: CallbackWaitsFor | None = None
) -> Reservation | None:
    """Reserve an available agent for this waiting caller (longest idle first), or None.

    An agent for whom `passed_over` says a booked callback waits is left to it: the callback was
    promised a time and the caller in the queue was not (see agent_became_available).
    """
    now = ensure_utc(now)
    entry = session.get(QueueEntry, queue_entry_id)
    if entry is None or entry.state != QueueEntryState.WAITING.value:
        return None
    queue = session.get(Queue, entry.queue_id)
    if queue is None:
        return None
    waiting_for_one = (
        entry.preferred_agent_id is not None and entry.preferred_until is not None and entry.preferred_until > now
    )
    agents = session.scalars(
        select(Agent)
        .where(Agent.state == AgentState.AVAILABLE.value, Agent.active.is_(True))
        .order_by(Agent.state_changed_at, Agent.id)
    ).all()
    if waiting_for_one:
        candidates = [a for a in agents if a.id == entry.preferred_agent_id]
    else:
        candidates = [a for a in agents if a.id == entry.preferred_agent_id or queue.skill in (a.skills or [])]
        candidates.sort(key=lambda a: a.id != entry.preferred_agent_id)  # stable: keeps idle order
    for agent in candidates:
        if passed_over is not None and passed_over(session, agent.id, now):
            continue
        if not move_agent(session, agent.id, AgentState.AVAILABLE, AgentState.RESERVED, now):
            continue
        if _reserve_entry(session, queue_entry_id, agent.id):
            return _reservation(session, queue_entry_id, agent)
        # Someone else took the caller meanwhile: give the agent back.
        move_agent(session, agent.id, AgentState.RESERVED, AgentState.AVAILABLE, now)
        return None
    return None


def _reservation(session: Session, entry_id: int, agent: Agent) -> Reservation:
    entry = session.get(QueueEntry, entry_id)
    if entry is None:
        raise UnknownQueueEntry(f"no queue entry {entry_id}")
    session.refresh(entry)
    queue = session.get(Queue, entry.queue_id)
    return Reservation(
        queue_entry_id=entry.id,
        call_sid=entry.call_sid,
        contact_id=entry.contact_id,
        queue_id=entry.queue_id,
        queue_name=queue.name if queue is not None else "",
        priority=entry.priority,
        enqueued_at=entry.enqueued_at,
        agent_id=agent.id,
        agent_name=agent.name,
        agent_phone=agent.phone,
        preferred=entry.preferred_agent_id == agent.id,
    )


# -- with the phone network ----------------------------------------------------------------------


def offer_after_commit(session: Session, agent_id: int) -> None:
    """The agent is available again: once this commits, what waits for an agent is offered them.

    Every way back to available goes through here (or calls agent_became_available itself): an
    agent freed without it would sit idle until some caller's next hold loop took them, and a
    callback waiting for an agent would never hear of them.

    The offer runs as a job on the dial queue, not in the request that freed the agent: it may
    place a callback's call, which waits its turn in the account's calls per second, and redirect
    a waiting call, and a webhook (a leg's status, the whisper's answer) must answer Twilio at
    once. Should Redis not take the job, the offer is made here after all: slow beats idle.
    """

    def offer(runtime: Runtime) -> None:
        try:
            queue(runtime.redis, DIAL_QUEUE).enqueue(
                offer_freed_agent, agent_id, result_ttl=OFFER_RESULT_TTL, description=f"offer agent {agent_id}"
            )
        except redis.RedisError:
            log.warning("could not queue the offer to a freed agent; offering now", agent_id=agent_id)
            agent_became_available(runtime, agent_id)

    after_commit(session).add(offer, key=("offer", agent_id))


def offer_freed_agent(agent_id: int) -> str:
    """RQ job: offer an agent who became available what waits for one (a callback, else a caller)."""
    reservation = agent_became_available(current_runtime(), agent_id)
    return "no caller offered" if reservation is None else f"caller {reservation.queue_entry_id} offered"


def free_agent(session: Session, agent_id: int | None, now: datetime) -> bool:
    """A callback's agent is done with it (or never got it): available again, and offered what waits."""
    if agent_id is None or not release_agent(session, agent_id, now):
        return False
    offer_after_commit(session, agent_id)
    return True


def agent_became_available(runtime: Runtime, agent_id: int) -> Reservation | None:
    """Reserve the best waiting caller for the agent and redirect that call to dial them.

    A booked callback waiting for an agent goes first (`Runtime.serve_waiting_callback`): it was
    promised a time, the caller in the queue was not. If it took this agent, no caller is offered.
    """
    if runtime.serve_waiting_callback is not None:
        runtime.serve_waiting_callback(runtime, agent_id)
    for _ in range(MAX_REDIRECT_TRIES):
        with runtime.db.session() as session:
            reservation = offer_agent(session, agent_id, runtime.clock.now())
        if reservation is None or _redirect(runtime, reservation):
            return reservation
    return None


def caller_enqueued(runtime: Runtime, queue_entry_id: int) -> Reservation | None:
    """A caller joined the queue: connect them at once when a suitable agent is free."""
    with runtime.db.session() as session:
        reservation = offer_caller(session, queue_entry_id, runtime.clock.now(), passed_over=runtime.callback_waits_for)
    if reservation is None or _redirect(runtime, reservation):
        return reservation
    return agent_became_available(runtime, reservation.agent_id)


def dispatch_waiting(runtime: Runtime) -> list[Reservation]:
    """Offer every available agent a caller (longest idle first): run when waits for a preferred
    agent expire or after anything that may have left agents and callers unmatched."""
    with runtime.db.session() as session:
        agent_ids = list(
            session.scalars(
                select(Agent.id)
                .where(Agent.state == AgentState.AVAILABLE.value, Agent.active.is_(True))
                .order_by(Agent.state_changed_at, Agent.id)
            )
        )
    made = []
    for agent_id in agent_ids:
        reservation = agent_became_available(runtime, agent_id)
        if reservation is not None:
            made.append(reservation)
    return made


def _redirect(runtime: Runtime, reservation: Reservation) -> bool:
    """Send the waiting call to the connect TwiML; undo the reservation when the network refuses."""
    url = runtime.url(runtime.webhook_urls.queue_connect.format(queue_entry_id=reservation.queue_entry_id))
    try:
        runtime.telephony.redirect_call(reservation.call_sid, url=url)
    except TelephonyError as exc:
        caller_gone = isinstance(exc, PermanentTelephonyError)
        log.warning(
            "could not redirect the waiting call",
            call_sid=reservation.call_sid,
            caller_gone=caller_gone,
            error=str(exc),
        )
        with runtime.db.session() as session:
            release_reservation(session, reservation.queue_entry_id, runtime.clock.now(), caller_gone=caller_gone)
        return False
    log.info(
        "waiting caller reserved for agent",
        call_sid=reservation.call_sid,
        agent_id=reservation.agent_id,
        queue=reservation.queue_name,
        priority=reservation.priority,
    )
    return True
