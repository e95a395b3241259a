"""Putting an agent through to a waiting caller: dial the agent, whisper who calls about what,
the agent's key to take the call, and what follows when the agent's leg ends.

Distribution (routing/distribution.py) picks the agent and redirects the caller's call here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from callbacks.booking import close_promise_resolved_by_contact
from ivr.call_sessions import CallNotFound, call_language, find_call
from ivr.flow_types import TRANSCRIPT_SEPARATOR, Action, Enqueue, Line
from routing import distribution
from routing.agents import agent_language
from routing.history import repeat_count
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
)
from routing.whisper import WHISPER_PROBLEM_LIMIT, Whisper, inbound_whisper_text
from routing.wrap_up import start_wrap_up
from terugbel.i18n import few_words, t
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work


@dataclass(frozen=True)
class ConnectAgent:
    """Dial the agent reserved for a waiting caller, with a whisper first."""

    number: str
    entry_id: int


def connect_agent(runtime: Runtime, *, entry_id: int, now: datetime) -> ConnectAgent | Action:
    """The call was picked for an agent: dial them (whisper first), or back in the queue if none.

    Only the agent distribution reserved is dialled: a redirect that arrives after the reservation
    was given up (the agent was set away meanwhile) puts the caller back in the queue, and never
    rings anyone nobody reserved.
    """
    with runtime.db.session() as session:
        entry = session.get(QueueEntry, entry_id)
        if entry is None:
            raise CallNotFound(f"queue entry {entry_id}")
        reserved = entry.state == QueueEntryState.RESERVED.value and entry.reserved_agent_id is not None
        agent = session.get(Agent, entry.reserved_agent_id) if reserved else None
        if agent is None:
            return _requeue(session, entry, now, missed=False)
        return ConnectAgent(number=agent.phone, entry_id=entry.id)


def whisper(runtime: Runtime, *, entry_id: int, now: datetime) -> Whisper:
    """The agent's whisper, in the agent's language: the caller's name, problem in their words, contacts this week."""
    with runtime.db.session() as session:
        entry = session.get(QueueEntry, entry_id)
        if entry is None:
            raise CallNotFound(f"queue entry {entry_id}")
        contact = session.get(Contact, entry.contact_id) if entry.contact_id else None
        # The caller hears the caller's language; the agent hears their own.
        language = agent_language(session, entry.reserved_agent_id, call_language(find_call(session, entry.call_sid)))
        caller = session.get(Caller, contact.caller_id) if contact and contact.caller_id else None
        intent = session.get(Intent, contact.intent_id) if contact and contact.intent_id else None
        problem = few_words(
            contact.transcript if contact else None, WHISPER_PROBLEM_LIMIT, last_part_after=TRANSCRIPT_SEPARATOR
        )
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
        name = caller.name if caller else None
        text = inbound_whisper_text(language, name=name, problem=problem, repeat_count=repeats)
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
                # The caller reached an agent: a pending callback, whatever it was about, is resolved.
                close_promise_resolved_by_contact(session, contact.caller.number, now)
        return True


def agent_dial_result(runtime: Runtime, *, entry_id: int, now: datetime) -> Action | None:
    """The agent leg ended: after a conversation hang up; if the agent never took it, wait again."""
    with unit_of_work(runtime) as session:
        entry = session.get(QueueEntry, entry_id)
        if entry is None:
            raise CallNotFound(f"queue entry {entry_id}")
        if entry.state in {QueueEntryState.CONNECTED.value, QueueEntryState.LEFT.value}:
            agent = session.get(Agent, entry.reserved_agent_id) if entry.reserved_agent_id else None
            if agent is not None and agent.state == AgentState.ON_CALL.value:
                contact = session.get(Contact, entry.contact_id) if entry.contact_id else None
                recorded = contact is not None and contact.resolved is not None
                start_wrap_up(session, agent.id, now, outcome_recorded=recorded)
            return None
        distribution.agent_did_not_answer(session, entry_id, now)
        return _requeue(session, entry, now, missed=True)


def _requeue(session: Session, entry: QueueEntry, now: datetime, *, missed: bool) -> Action:
    if entry.state == QueueEntryState.RESERVED.value:
        distribution.release_reservation(session, entry.id, now, caller_gone=False)
    queue = session.get(Queue, entry.queue_id)
    call = find_call(session, entry.call_sid)
    language = call_language(call)
    lines = (Line(t(language, "ivr_agent_missed"), language),) if missed else ()
    return Enqueue(lines, queue.name if queue else "")
