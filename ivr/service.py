"""The voice menu's persistence: call sessions, contacts, routing, callbacks and incident texts.

Each public function is one transaction: it loads the facts, runs the pure flow (ivr/flow.py),
carries out the commands the flow gives (route, book, cancel, subscribe) and stores the new state.
Dial jobs and texts that a booking causes are sent after commit (terugbel.unit_of_work).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import phonenumbers.timezone
from sqlalchemy import Insert, Integer, String, and_, bindparam, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callbacks import service as callbacks
from callbacks.models import IS_OPEN_PROMISE, CallbackPromise
from callbacks.outbox import dispatch_pending, queue_sms
from ivr import flow
from ivr.flow import Action, CallerInput, CallFacts, Command, Event, FlowState
from ivr.models import CallSession
from routing import agents, distribution
from routing import route as routing
from routing.config import STAMP_TOKEN, CenterConfig, center_config, center_config_at
from routing.history import repeat_count
from routing.models import (
    Agent,
    AgentState,
    Caller,
    Contact,
    ContactChannel,
    ContactOutcome,
    Incident,
    IncidentState,
    IncidentSubscription,
    Intent,
    Queue,
    QueueEntry,
    QueueEntryState,
)
from terugbel.audit import record_audit
from terugbel.clock import ensure_utc
from terugbel.db import plain_rows
from terugbel.i18n import t
from terugbel.logs import get_logger
from terugbel.phone import region_of, try_e164
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work

log = get_logger(__name__)

MAX_COMMANDS = 6  # a flow step never needs more; a loop beyond this is a bug, not a call to keep alive
FINAL_CALL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
_STATUS_RANK = {"queued": 0, "initiated": 1, "ringing": 2, "answered": 3, "in-progress": 3}
_FINAL_RANK = 4


class CallNotFound(LookupError):
    """No call session for this CallSid: the request belongs to no call we answered."""


@dataclass(frozen=True)
class ConnectAgent:
    """Dial the agent reserved for a waiting caller, with a whisper first."""

    number: str
    entry_id: int


@dataclass(frozen=True)
class Whisper:
    text: str
    language: str


# --- the call ------------------------------------------------------------------------------------------------


def answer_call(runtime: Runtime, *, call_sid: str, from_: str | None, now: datetime) -> Action:
    """An incoming call: identify the caller, open the contact and session, and say the first prompt."""
    number = try_e164(from_, runtime.settings.default_region)
    try:
        return _open_call(runtime, call_sid, number, now)
    except IntegrityError:
        # Twilio retried the first request (the CallSid is ours already): say the first step again,
        # change nothing twice. Found by the unique CallSid, so the common case costs no extra query.
        with runtime.db.session() as session:
            existing = _require_session(session, call_sid)
            _, facts = _caller_and_facts(session, runtime, existing.number, now)
            _, out = flow.start(facts, existing.language, now)
            if isinstance(out, Command):
                raise RuntimeError("the first step of a call is never a command") from None
            return out


def _open_call(runtime: Runtime, call_sid: str, number: str | None, now: datetime) -> Action:
    # One read and one write (a single statement on PostgreSQL): no transaction needed around them.
    with runtime.db.statement_session() as session:
        caller, facts = _caller_and_facts(session, runtime, number, now)
        language = flow.language_for(caller.language if caller else None, _region(number))
        # The first step needs nothing from the database beyond the facts: decide it before inserting,
        # so the contact and the session are written once, already in their first state.
        state, out = flow.start(facts, language, now)
        if isinstance(out, Command):
            raise RuntimeError("the first step of a call is never a command")
        _insert_call(
            session,
            {
                "call_sid": call_sid,
                "caller_id": caller.id if caller else None,
                "number": number,
                "now": now,
                "channel": ContactChannel.CALL.value,
                "outcome": ContactOutcome.IN_PROGRESS.value,
                "path": list(state.path),
                "questions_asked": state.questions,
                "language": state.language,
                "step": state.step,
                "data": {"flow": state.to_data()},
            },
        )
        return out


def _insert_call(session: Session, values: dict[str, Any]) -> None:
    """Write the contact and the call session of a new call, both or neither.

    Plain inserts, not the ORM: every incoming call takes this path, and the unit of work would cost
    more than the rest of the request. On PostgreSQL one statement writes both; elsewhere two, in
    the session's transaction. A second request for the same CallSid fails on its unique key.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_INSERT_CONTACT_AND_CALL, values)
        return
    contact_id = connection.execute(_INSERT_CONTACT, values).scalar_one()
    connection.execute(_INSERT_CALL_SESSION, {**values, "contact_id": contact_id})


def _new_call_insert(contact_id: Any) -> Insert:
    """INSERT of the call session, with the contact's id from `contact_id` (a bind or a column)."""
    sessions = CallSession.__table__.c
    columns = {
        "call_sid": bindparam("call_sid", type_=sessions.call_sid.type),
        "caller_id": bindparam("caller_id", type_=sessions.caller_id.type),
        "contact_id": contact_id,
        "number": bindparam("number", type_=sessions.number.type),
        "language": bindparam("language", type_=sessions.language.type),
        "step": bindparam("step", type_=sessions.step.type),
        "data": bindparam("data", type_=sessions.data.type),
        "answered_at": bindparam("now", type_=sessions.answered_at.type),
        "updated_at": bindparam("now", type_=sessions.updated_at.type),
        # Named, not left to the column's default: SQLAlchemy leaves defaults of a statement with a
        # WITH unfilled on PostgreSQL.
        "last_status_sequence": literal(sessions.last_status_sequence.default.arg),
    }
    return insert(CallSession).from_select(list(columns), select(*columns.values()))


_contacts = Contact.__table__.c
_INSERT_CONTACT = (
    insert(Contact)
    .values(
        caller_id=bindparam("caller_id", type_=_contacts.caller_id.type),
        channel=bindparam("channel", type_=_contacts.channel.type),
        call_sid=bindparam("call_sid", type_=_contacts.call_sid.type),
        started_at=bindparam("now", type_=_contacts.started_at.type),
        path=bindparam("path", type_=_contacts.path.type),
        questions_asked=bindparam("questions_asked", type_=_contacts.questions_asked.type),
        outcome=bindparam("outcome", type_=_contacts.outcome.type),
        priority=literal(_contacts.priority.default.arg),
    )
    .returning(Contact.id)
)
_INSERT_CALL_SESSION = _new_call_insert(bindparam("contact_id", type_=Integer))
_NEW_CONTACT = _INSERT_CONTACT.cte("new_contact")
# PostgreSQL: the contact in a data-modifying WITH, the call session selecting its id: one statement.
_INSERT_CONTACT_AND_CALL = _new_call_insert(_NEW_CONTACT.c.id).add_cte(_NEW_CONTACT)


def take_input(runtime: Runtime, *, call_sid: str, event: CallerInput, now: datetime) -> Action:
    """The caller's keys or words for the current step."""
    with unit_of_work(runtime) as session:
        call = _require_session(session, call_sid)
        facts = _facts_for(session, runtime, call, now)
        state = FlowState.from_data(call.data.get("flow"), call.language)
        state, out = flow.advance(state, event, facts, now)
        return _finish(session, runtime, call, state, out, facts, now)


def wait_message(runtime: Runtime, *, call_sid: str, position: int, waited_seconds: int, now: datetime) -> flow.Ask:
    """One loop of the hold message, with a callback slot offered instead of waiting."""
    with unit_of_work(runtime) as session:
        call = _require_session(session, call_sid)
        state = FlowState.from_data(call.data.get("flow"), call.language)
        offer: flow.SlotChoice | None = None
        if call.number and state.queue_id is not None:
            offers = callbacks.offer_slots(
                session, queue_id=state.queue_id, now=now, zone=caller_zone(runtime, call.number), count=1
            )
            offer = _choices(offers)[0] if offers else None
        state.offers = [[offer.slot_id, offer.start.isoformat(), offer.end.isoformat()]] if offer else []
        state.step = "queued"
        _store(call, state, now)
        entry = session.scalar(select(QueueEntry).where(QueueEntry.call_sid == call_sid))
        waiting_entry = entry.id if entry is not None and entry.state == QueueEntryState.WAITING.value else None
        prompt = flow.wait_prompt(
            state,
            position=position,
            waited_seconds=waited_seconds,
            offer=offer,
            zone=caller_zone(runtime, call.number),
            now=now,
        )
    if waiting_entry is not None:
        # The caller is surely in Twilio's queue now: hand them to a free agent, if there is one.
        try:
            distribution.caller_enqueued(runtime, waiting_entry)
        except Exception:
            log.exception("handing the waiting caller to an agent failed")
    return prompt


def queue_result(runtime: Runtime, *, call_sid: str, result: str, now: datetime) -> Action | None:
    """Twilio's <Enqueue> action: the caller left the queue. None: nothing more to say (hang up)."""
    with unit_of_work(runtime) as session:
        call = _require_session(session, call_sid)
        state = FlowState.from_data(call.data.get("flow"), call.language)
        if result in {"bridged", "hangup", "leave", "redirected"} or state.outcome == "callback_booked":
            return None
        # queue-full, error, system-error: we could not hold the caller, so a callback or a person.
        _leave_queue(session, call_sid, now)
        facts = _facts_for(session, runtime, call, now)
        state.queue_open = False
        state.path.append(f"queue:{result}")
        state.outcome = None
        if call.number and state.queue_id is not None:
            offers = _choices(
                callbacks.offer_slots(session, queue_id=state.queue_id, now=now, zone=caller_zone(runtime, call.number))
            )
            if offers:
                state, out = flow.advance(
                    state,
                    flow.Routed(state.queue_id, state.queue_name or "", False, state.wait_seconds, True, None, offers),
                    facts,
                    now,
                )
                return _finish(session, runtime, call, state, out, facts, now)
        action = flow.apology(
            state.language,
            overflow_number=runtime.settings.overflow_number,
            callback=None,
            zone=caller_zone(runtime, call.number),
            now=now,
        )
        _store(call, state, now)
        return action


def fallback_callback(
    runtime: Runtime,
    *,
    call_sid: str | None,
    from_: str | None,
    language: str,
    now: datetime,
    give_up_at: float | None = None,
) -> tuple[datetime, datetime] | None:
    """Something broke mid-call: keep the caller's open promise or book the earliest callback.

    Returns the window to promise, or None when no callback can be kept (withheld number, the
    database itself is down, no slot). Never raises: it runs while apologising.
    """
    try:
        with unit_of_work(runtime) as session:
            call = _session_of(session, call_sid) if call_sid else None
            number = call.number if call is not None else try_e164(from_, runtime.settings.default_region)
            if not number:
                return None
            existing = callbacks.open_promise_for(session, number)
            if existing is not None:
                return existing.window_start, existing.window_end
            state = FlowState.from_data(call.data.get("flow"), call.language) if call is not None else None
            queue_id = state.queue_id if state is not None else None
            if queue_id is None:
                general = session.scalar(select(Queue).where(Queue.name == routing.GENERAL_QUEUE))
                queue_id = general.id if general is not None else session.scalar(select(Queue.id).order_by(Queue.id))
            if queue_id is None:
                return None
            promise = callbacks.book_callback(
                session,
                queue_id=queue_id,
                number=number,
                language=language,
                timezone=caller_zone(runtime, number),
                now=now,
                caller_id=call.caller_id if call is not None else None,
                contact_id=call.contact_id if call is not None else None,
                problem=state.words if state is not None else None,
                region=runtime.settings.default_region,
            )
            if call is not None and call.contact_id is not None:
                contact = session.get(Contact, call.contact_id)
                if contact is not None:
                    contact.outcome = ContactOutcome.CALLBACK_BOOKED.value
            if give_up_at is not None and time.monotonic() > give_up_at:
                # The apology went out without this callback: undo it rather than book a silent one.
                raise TimeoutError("too late to promise this callback")
            return promise.window_start, promise.window_end
    except Exception as exc:  # the apology goes on without a callback
        log.warning("no callback could be booked while apologising", error=type(exc).__name__)
        return None


def current_language(runtime: Runtime, call_sid: str | None, from_: str | None) -> str:
    """The language to apologise in: the session's, else the one the number suggests."""
    if call_sid:
        try:
            with runtime.db.session() as session:
                call = _session_of(session, call_sid)
                if call is not None:
                    return str(call.data.get("flow", {}).get("language") or call.language)
        except Exception:
            log.warning("language lookup failed; using the number's")
    return flow.language_for(None, _region(try_e164(from_, runtime.settings.default_region)))


def language_of_number(runtime: Runtime, from_: str | None) -> str:
    """The language a number suggests, without asking the database."""
    return flow.language_for(None, _region(try_e164(from_, runtime.settings.default_region)))


# --- agents ------------------------------------------------------------------------------------------------------


def connect_agent(runtime: Runtime, *, entry_id: int, now: datetime) -> ConnectAgent | Action:
    """The call was picked for an agent: dial them (whisper first), or back in the queue if none."""
    with runtime.db.session() as session:
        entry = session.get(QueueEntry, entry_id)
        if entry is None:
            raise CallNotFound(f"queue entry {entry_id}")
        agent_id = entry.reserved_agent_id or entry.preferred_agent_id
        agent = session.get(Agent, agent_id) if agent_id is not None else None
        if agent is None:
            return _requeue(session, entry, now, missed=False)
        entry.reserved_agent_id = agent.id
        entry.state = QueueEntryState.RESERVED.value
        return ConnectAgent(number=agent.phone, entry_id=entry.id)


def whisper(runtime: Runtime, *, entry_id: int, now: datetime) -> Whisper:
    """The agent's whisper: the caller's name, problem in their words, and contacts this week."""
    with runtime.db.session() as session:
        entry = session.get(QueueEntry, entry_id)
        if entry is None:
            raise CallNotFound(f"queue entry {entry_id}")
        contact = session.get(Contact, entry.contact_id) if entry.contact_id else None
        call = _session_of(session, entry.call_sid)
        language = call.language if call else "nl"
        caller = session.get(Caller, contact.caller_id) if contact and contact.caller_id else None
        intent = session.get(Intent, contact.intent_id) if contact and contact.intent_id else None
        problem = _few_words(contact.transcript if contact else None)
        if problem is None and intent is not None:
            problem = intent.label_nl if language == "nl" else intent.label_en
        repeats = 0
        if caller is not None:
            repeats = repeat_count(
                session,
                caller.id,
                intent.name if intent else None,
                now,
                runtime.settings.repeat_window_days,
                exclude_contact_id=contact.id if contact else None,
            )
        text = flow.whisper_text(language, name=caller.name if caller else None, problem=problem, repeat_count=repeats)
        return Whisper(text=text, language=language)


def accept_whisper(runtime: Runtime, *, entry_id: int, digits: str | None, now: datetime) -> bool:
    """The agent pressed a key on the whisper: 1 takes the call."""
    if (digits or "").strip() != "1":
        return False
    # A callback session: closing a callback promise below unschedules its dial job after commit.
    with unit_of_work(runtime) as session:
        entry = session.get(QueueEntry, entry_id)
        if entry is None:
            raise CallNotFound(f"queue entry {entry_id}")
        distribution.mark_connected(session, entry_id, now)
        contact = session.get(Contact, entry.contact_id) if entry.contact_id else None
        if contact is not None:
            contact.outcome = ContactOutcome.AGENT.value
            contact.routed_at = contact.routed_at or now
            if contact.caller is not None:
                # The caller reached an agent about the same problem: a pending callback for it is moot.
                callbacks.close_promise_resolved_by_contact(session, contact.caller.number, contact.intent_id, now)
        return True


def agent_dial_result(runtime: Runtime, *, entry_id: int, now: datetime) -> Action | None:
    """The agent leg ended: after a conversation hang up; if the agent never took it, wait again."""
    with runtime.db.session() as session:
        entry = session.get(QueueEntry, entry_id)
        if entry is None:
            raise CallNotFound(f"queue entry {entry_id}")
        if entry.state in {QueueEntryState.CONNECTED.value, QueueEntryState.LEFT.value}:
            agent = session.get(Agent, entry.reserved_agent_id) if entry.reserved_agent_id else None
            if agent is not None and agent.state == AgentState.ON_CALL.value:
                # The conversation is over: wrap-up, until the agent says (in the console) they are free.
                agents.change_agent_state(session, agent.id, AgentState.WRAP_UP, now)
            return None
        distribution.agent_did_not_answer(session, entry_id, now)
        return _requeue(session, entry, now, missed=True)


def _requeue(session: Session, entry: QueueEntry, now: datetime, *, missed: bool) -> Action:
    if entry.state == QueueEntryState.RESERVED.value:
        distribution.release_reservation(session, entry.id, now, caller_gone=False)
    queue = session.get(Queue, entry.queue_id)
    call = _session_of(session, entry.call_sid)
    language = call.language if call else "nl"
    lines = (flow.Line(t(language, "ivr_agent_missed"), language),) if missed else ()
    return flow.Enqueue(lines, queue.name if queue else "")


# --- status callbacks -------------------------------------------------------------------------------------------


def record_status(
    runtime: Runtime, *, call_sid: str, status: str, sequence: int | None, duration: int | None, now: datetime
) -> bool:
    """Complete the contact from Twilio's status callback; a duplicate or older callback changes nothing."""
    rank = (
        sequence
        if sequence is not None
        else (_FINAL_RANK if status in FINAL_CALL_STATUSES else _STATUS_RANK.get(status, 0))
    )
    with runtime.db.session() as session:
        call = _session_of(session, call_sid, lock=True)
        if call is None:
            return False
        if rank <= call.last_status_sequence:
            return False
        call.last_status_sequence = rank
        call.updated_at = now
        if status not in FINAL_CALL_STATUSES:
            return True
        contact = session.get(Contact, call.contact_id) if call.contact_id else None
        if contact is None or contact.ended_at is not None:
            return True
        state = FlowState.from_data(call.data.get("flow"), call.language)
        if duration is not None and duration >= 0:
            contact.ended_at = ensure_utc(call.answered_at) + timedelta(seconds=duration)
        else:
            contact.ended_at = now
        contact.path = list(state.path)
        contact.questions_asked = state.questions
        if contact.outcome == ContactOutcome.IN_PROGRESS.value:
            contact.outcome = _final_outcome(state).value
        _leave_queue(session, call_sid, now)
        return True


def _final_outcome(state: FlowState) -> ContactOutcome:
    if state.outcome == "callback_booked":
        return ContactOutcome.CALLBACK_BOOKED
    if state.outcome == "answered":
        return ContactOutcome.ANSWERED
    if state.outcome == "transferred":
        return ContactOutcome.AGENT
    routed = any(step.startswith("route:") for step in state.path)
    if state.heard_incidents and not routed:
        return ContactOutcome.INFORMED_BY_INCIDENT
    return ContactOutcome.ABANDONED


def _leave_queue(session: Session, call_sid: str, now: datetime) -> None:
    distribution.leave_queue(session, call_sid, now)


# --- incidents ----------------------------------------------------------------------------------------------------


class IncidentNotFound(LookupError):
    """No incident with that id."""


def create_incident(session: Session, *, actor: str, now: datetime, **fields: Any) -> Incident:
    """Start an incident that matching callers hear before any question."""
    incident = Incident(state=IncidentState.ACTIVE.value, started_at=now, created_by=actor, **fields)
    session.add(incident)
    session.flush()
    record_audit(
        session,
        at=now,
        actor=actor,
        action="incident.create",
        subject=f"incident {incident.id}",
        details={
            "title": incident.title,
            "match_all": incident.match_all,
            "match_prefixes": incident.match_prefixes,
            "match_products": incident.match_products,
        },
    )
    return incident


def list_incidents(session: Session, state: str | None = None) -> list[Incident]:
    query = select(Incident).order_by(Incident.started_at.desc(), Incident.id.desc())
    if state:
        query = query.where(Incident.state == state)
    return list(session.scalars(query))


def resolve_incident(session: Session, incident_id: int, *, actor: str, now: datetime) -> tuple[Incident, list[int]]:
    """Resolve the incident and queue one text per subscriber not yet told; return the message ids."""
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise IncidentNotFound(f"incident {incident_id}")
    if incident.state != IncidentState.RESOLVED.value:
        incident.state = IncidentState.RESOLVED.value
        incident.resolved_at = now
        record_audit(session, at=now, actor=actor, action="incident.resolve", subject=f"incident {incident.id}")
    message_ids: list[int] = []
    waiting = session.scalars(
        select(IncidentSubscription).where(
            IncidentSubscription.incident_id == incident.id, IncidentSubscription.notified_at.is_(None)
        )
    )
    for subscription in waiting:
        message = queue_sms(
            session,
            to=subscription.number,
            body=t(subscription.language, "ivr_sms_incident_resolved"),
            purpose="incident_fixed",
            now=now,
        )
        subscription.notified_at = now
        message_ids.append(message.id)
    return incident, message_ids


def send_incident_texts(runtime: Runtime, message_ids: list[int]) -> None:
    """After commit: hand the queued texts to the outbox."""
    if message_ids:
        dispatch_pending(runtime, message_ids)


def _subscribe(session: Session, call: CallSession, incident_ids: tuple[int, ...], now: datetime) -> None:
    if not call.number:
        return
    for incident_id in incident_ids:
        exists = session.scalar(
            select(IncidentSubscription.id).where(
                IncidentSubscription.incident_id == incident_id, IncidentSubscription.number == call.number
            )
        )
        if exists is None:
            session.add(
                IncidentSubscription(
                    incident_id=incident_id, number=call.number, language=call.language, created_at=now
                )
            )
    session.flush()


# --- the engine: facts in, commands carried out, state stored ---------------------------------------------------


def _finish(
    session: Session,
    runtime: Runtime,
    call: CallSession,
    state: FlowState,
    out: Action | Command,
    facts: CallFacts,
    now: datetime,
) -> Action:
    for _ in range(MAX_COMMANDS):
        if not isinstance(out, Command):
            break
        result = _carry_out(session, runtime, call, state, out, now)
        state, out = flow.advance(state, result, facts, now)
    else:
        raise RuntimeError("the flow kept asking for commands")
    if isinstance(out, flow.Enqueue):
        _enqueue(session, call, state, now)
    _store(call, state, now)
    _update_contact(session, call, state)
    if state.switched and call.caller_id is not None:
        caller = session.get(Caller, call.caller_id)
        if caller is not None:
            caller.language = state.language
    return out  # type: ignore[return-value]


def _carry_out(
    session: Session, runtime: Runtime, call: CallSession, state: FlowState, command: Command, now: datetime
) -> Event:
    zone = caller_zone(runtime, call.number)
    if isinstance(command, flow.SubscribeIncidents):
        _subscribe(session, call, command.incident_ids, now)
        return flow.Subscribed()
    if isinstance(command, flow.RouteContact):
        contact = session.get(Contact, call.contact_id) if call.contact_id else None
        if contact is not None and command.words:
            contact.transcript = command.words
        decision = routing.route_contact(
            session,
            caller_id=call.caller_id,
            intent_name=command.intent,
            # The menu's classifier already judged the words (and the caller may have said "no" to
            # its guess): routing must not guess an intent from them again.
            words=None,
            language=state.language,
            now=now,
            contact_id=call.contact_id,
            number=call.number,
            window_days=runtime.settings.repeat_window_days,
            preferred_wait_seconds=runtime.settings.preferred_agent_wait_seconds,
            zone=runtime.settings.timezone,  # the contact center's zone: its day/time rules,
        )
        call.data = {
            **(call.data or {}),
            "routing": {
                "priority": decision.priority,
                "preferred_agent_id": decision.preferred_agent_id,
                "preferred_wait_seconds": decision.preferred_wait_seconds,
            },
        }
        offers: tuple[flow.SlotChoice, ...] = ()
        if call.number and (decision.offer_callback_first or not decision.queue_open):
            offers = _choices(callbacks.offer_slots(session, queue_id=decision.queue_id, now=now, zone=zone))
        opens_at = None
        if not decision.queue_open:
            queue = center_config(session).queues_by_id.get(decision.queue_id)
            if queue is not None:
                from routing.hours import next_opening

                opens_at = next_opening(queue.hours, queue.closed_days, now)
        return flow.Routed(
            queue_id=decision.queue_id,
            queue_name=decision.queue_name,
            open=decision.queue_open,
            wait_seconds=decision.wait_estimate_seconds,
            offer_callback_first=decision.offer_callback_first,
            announcement=decision.announcement,
            offers=offers,
            opens_at=opens_at,
        )
    if isinstance(command, flow.BookCallback):
        contact = session.get(Contact, call.contact_id) if call.contact_id else None
        try:
            promise = callbacks.book_callback(
                session,
                queue_id=command.queue_id,
                number=command.number,
                language=state.language,
                timezone=zone,
                now=now,
                slot_id=command.slot_id,
                near=command.near,
                caller_id=call.caller_id,
                intent_id=contact.intent_id if contact else None,
                problem=state.words,
                contact_id=call.contact_id,
                preferred_agent_id=(call.data or {}).get("routing", {}).get("preferred_agent_id"),
                region=runtime.settings.default_region,
            )
        except callbacks.SlotFull:
            return flow.NotBooked("slot_taken", _fresh_offers(session, command.queue_id, now, zone))
        except callbacks.NoSlotAvailable:
            return flow.NotBooked("no_slot")
        except callbacks.PromiseBusy:
            return flow.NotBooked("busy")
        except callbacks.UnusableNumber as refused:
            return flow.NotBooked("number", _fresh_offers(session, command.queue_id, now, zone), refused.reason)
        _leave_queue(session, call.call_sid, now)
        if contact is not None:
            contact.outcome = ContactOutcome.CALLBACK_BOOKED.value
        return flow.Booked(promise.window_start, promise.window_end, promise.number)
    if isinstance(command, flow.OfferSlots):
        exclude: list[int] = []
        if state.promise_id is not None:
            promise = callbacks.open_promise_for(session, call.number or "")
            if promise is not None and promise.slot_id is not None:
                exclude.append(promise.slot_id)
        offers = _choices(
            callbacks.offer_slots(session, queue_id=command.queue_id, now=now, zone=zone, exclude=exclude)
        )
        return flow.SlotsOffered(command.queue_id, offers)
    if isinstance(command, flow.CancelPromise):
        try:
            promise = callbacks.cancel_promise(session, command.promise_id, now, "cancelled by the caller in the menu")
        except (callbacks.PromiseNotFound, ValueError):
            return flow.PromiseGone()
        return flow.PromiseCancelled(promise.window_start, promise.window_end)
    raise TypeError(f"unknown command {command!r}")


def _fresh_offers(session: Session, queue_id: int, now: datetime, zone: str) -> tuple[flow.SlotChoice, ...]:
    return _choices(callbacks.offer_slots(session, queue_id=queue_id, now=now, zone=zone))


def _choices(offers: Any) -> tuple[flow.SlotChoice, ...]:
    return tuple(flow.SlotChoice(o.slot_id, o.window_start, o.window_end) for o in offers)


def _enqueue(session: Session, call: CallSession, state: FlowState, now: datetime) -> None:
    """Record the waiting caller: distribution serves by priority, then waiting time."""
    if state.queue_id is None:
        return
    routed = (call.data or {}).get("routing", {})
    entry = session.scalar(select(QueueEntry).where(QueueEntry.call_sid == call.call_sid))
    if entry is None:
        distribution.enqueue_caller(
            session,
            call_sid=call.call_sid,
            queue_id=state.queue_id,
            now=now,
            priority=int(routed.get("priority") or 0),
            contact_id=call.contact_id,
            preferred_agent_id=routed.get("preferred_agent_id"),
            preferred_wait_seconds=int(routed.get("preferred_wait_seconds") or 0),
        )
    elif entry.state == QueueEntryState.LEFT.value:
        # Back in line (waiting anyway after an offer, or the queue said no): keep the original place.
        entry.state = QueueEntryState.WAITING.value
        entry.queue_id = state.queue_id
        entry.left_at = None
        session.flush()


def _store(call: CallSession, state: FlowState, now: datetime) -> None:
    call.data = {**(call.data or {}), "flow": state.to_data()}
    call.step = state.step
    call.language = state.language
    call.updated_at = now


def _update_contact(session: Session, call: CallSession, state: FlowState) -> None:
    contact = session.get(Contact, call.contact_id) if call.contact_id else None
    if contact is None:
        return
    contact.path = list(state.path)
    contact.questions_asked = state.questions
    if state.words:
        contact.transcript = state.words


def _session_of(session: Session, call_sid: str, *, lock: bool = False) -> CallSession | None:
    query = select(CallSession).where(CallSession.call_sid == call_sid)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def _require_session(session: Session, call_sid: str) -> CallSession:
    call = _session_of(session, call_sid)
    if call is None:
        raise CallNotFound(call_sid)
    return call


def _facts_for(session: Session, runtime: Runtime, call: CallSession, now: datetime) -> CallFacts:
    return _caller_and_facts(session, runtime, call.number, now)[1]


class OpenPromise(NamedTuple):
    """The caller's open callback promise as the menu tells it."""

    id: int
    queue_id: int
    window_start: datetime
    window_end: datetime
    state: str


# The caller, their open promise and the configuration's stamp in one round trip: every voice webhook
# needs all three. A one-row derived table holds the number, so an unknown caller still gets a row.
# Plain columns, not entities: the ORM's loading would cost more than the query.
_DIALLED = select(bindparam("number", type_=String(20)).label("number")).subquery("dialled")
_CALLER_PROMISE_STAMP = (
    select(
        STAMP_TOKEN.label("stamp"),
        *routing.ROUTED_CALLER_COLUMNS,
        CallbackPromise.id.label("promise_id"),
        CallbackPromise.queue_id,
        CallbackPromise.window_start,
        CallbackPromise.window_end,
        CallbackPromise.state,
    )
    .select_from(_DIALLED)
    .outerjoin(Caller, Caller.number == _DIALLED.c.number)
    .outerjoin(
        CallbackPromise,
        and_(
            CallbackPromise.number == _DIALLED.c.number,
            IS_OPEN_PROMISE,
        ),
    )
)


def _caller_and_facts(
    session: Session, runtime: Runtime, number: str | None, now: datetime
) -> tuple[routing.RoutedCaller | None, CallFacts]:
    """The known caller with this number (E.164, None when withheld) and what the menu knows of them."""
    if number is None:
        return None, _facts(session, runtime, None, None, None, now)
    # One row always: the derived table's, and at most one open promise per number (a unique index).
    row = plain_rows(session, _CALLER_PROMISE_STAMP, {"number": number}).one()
    center_config_at(session, row.stamp)  # held by the session for the incidents and intents below
    caller = routing.RoutedCaller.of(row)
    promise = (
        OpenPromise(row.promise_id, row.queue_id, row.window_start, row.window_end, row.state)
        if row.promise_id is not None
        else None
    )
    return caller, _facts(session, runtime, number, caller, promise, now)


def _facts(
    session: Session,
    runtime: Runtime,
    number: str | None,
    caller: routing.RoutedCaller | None,
    promise: OpenPromise | None,
    now: datetime,
) -> CallFacts:
    incidents = routing.active_incidents_for(session, caller if caller is not None else number, now)
    return CallFacts(
        number=number,
        caller_name=caller.name if caller else None,
        zone=caller_zone(runtime, number),
        region=runtime.settings.default_region,
        incidents=tuple(
            flow.IncidentNotice(i.id, {"nl": i.message_nl, "en": i.message_en}, i.expected_fix_at)
            for i in incidents[:2]
        ),
        promise=(
            flow.PromiseNotice(promise.id, promise.queue_id, promise.window_start, promise.window_end)
            if promise is not None and promise.state == "booked"
            else None
        ),
        intents=_menu_options(center_config(session)),
        overflow_number=runtime.settings.overflow_number,
    )


_menu_options_of: tuple[CenterConfig, tuple[flow.IntentOption, ...]] | None = None


def _menu_options(config: CenterConfig) -> tuple[flow.IntentOption, ...]:
    """The menu's intents as the flow offers them, built once per kept configuration."""
    global _menu_options_of
    kept = _menu_options_of
    if kept is not None and kept[0] is config:
        return kept[1]
    options = tuple(
        flow.IntentOption(
            name=i.name,
            labels={"nl": i.label_nl, "en": i.label_en},
            key=i.key,
            phrases={"nl": tuple(i.phrases_nl or ()), "en": tuple(i.phrases_en or ())},
        )
        for i in config.menu_intents
    )
    _menu_options_of = (config, options)
    return options


def caller_zone(runtime: Runtime, number: str | None) -> str:
    """The caller's time zone from their number when it has one offset (+44: London), else ours."""
    default = runtime.settings.timezone
    e164 = try_e164(number, runtime.settings.default_region) if number else None
    return _zone_of(e164, default) if e164 else default


# Bounded: every distinct calling number is a key, and a web process lives for weeks.
@lru_cache(maxsize=4096)
def _zone_of(number: str, default: str) -> str:
    try:
        names = phonenumbers.timezone.time_zones_for_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return default
    zones = [name for name in names if "/" in name and not name.startswith("Etc/")]
    if not zones or default in zones:
        return default
    try:
        # Several names (London, Jersey, Guernsey) are one zone for us if they keep the same clock.
        clocks = {
            tuple(datetime(2026, month, 1, 12, tzinfo=ZoneInfo(z)).utcoffset() for month in (1, 7)) for z in zones
        }
    except (ZoneInfoNotFoundError, ValueError):
        return default
    return zones[-1] if len(clocks) == 1 else default


def _region(number: str | None) -> str | None:
    """The number's region; for numbers libphonenumber does not know as assigned, its country's."""
    if not number:
        return None
    region = region_of(number)
    if region is not None:
        return region
    try:
        country_code = phonenumbers.parse(number).country_code
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_country_code(country_code)


def _few_words(words: str | None, limit: int = 80) -> str | None:
    if not words:
        return None
    last = words.split(" / ")[-1].strip()
    return last if len(last) <= limit else last[: limit - 1].rsplit(" ", 1)[0] + "…"
