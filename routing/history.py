"""A caller's contacts with us: who they are, their timeline, and what makes a contact a repeat.

The timeline holds the caller's contacts and the callbacks we kept for them, newest first. Routing
reads the part of it that bears on a decision (`repeat_history`); agents and the console read it
whole (`caller_history`); the numbers ask whether a contact was resolved at the first contact.
Each function works in the caller's transaction and only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, bindparam, false, literal_column, null, or_, select, true, union_all
from sqlalchemy.orm import Session

from callbacks.models import CallbackPromise
from routing.config import IntentConfig, center_config
from routing.models import Agent, Caller, Contact, ContactOutcome, Intent
from routing.repeats import REPEAT_WINDOW_DAYS, makes_repeat
from routing.snapshot import HistoryFacts
from terugbel.clock import ensure_utc
from terugbel.db import plain_rows
from terugbel.phone import try_e164

# A callback promise kept by a dial that also left a "callback" contact is shown once: the contact.
_CALLBACK_CONTACT_SLACK = timedelta(hours=1)


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
    # The contact this one continues (a kept callback: the call that booked it): one contact with it.
    continues_contact_id: int | None = None


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
        if exclude_contact_id is not None and row.continues_contact_id == exclude_contact_id:
            continue  # the kept callback of the contact left out is that same contact
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
                continues_contact_id=row.continues_contact_id,
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
        Contact.continues_contact_id,
    ).where(
        Contact.caller_id == bindparam("caller_id"),
        Contact.started_at >= bindparam("since"),
        Contact.started_at <= bindparam("until"),
    )
    promises: Select[*tuple[Any, ...]] = select(
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
        CallbackPromise.contact_id,
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
    """Repeat count, last agent and team, and unresolved contacts from a timeline (newest first).

    A kept callback and the call that booked it are one contact: counted once, its agent the last.
    """
    earlier = [entry for entry in history if is_repeat_of(entry, intent_name)]
    present = {entry.contact_id for entry in history if entry.contact_id is not None}
    counted = [entry for entry in earlier if entry.continues_contact_id not in present]
    last_agent = next((e.agent_id for e in earlier if e.agent_id is not None), None)
    last_queue = next((e.queue for e in earlier if e.queue is not None), None)
    return HistoryFacts(
        repeat_count=len(counted),
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

    A kept callback continues the call that booked it: it is no repeat, and how its agent marked it
    is how the contact ended. None while the window is still running and nothing followed yet.
    """
    contact = session.get(Contact, contact_id)
    if contact is None or contact.caller_id is None:
        return None
    intent_name = session.scalar(select(Intent.name).where(Intent.id == contact.intent_id))
    window_end = contact.started_at + timedelta(days=days)
    later = caller_history(session, contact.caller_id, min(ensure_utc(now), window_end), days)
    marks = [e.resolved for e in later if e.continues_contact_id == contact.id and e.resolved is not None]
    resolved = marks[0] if marks else contact.resolved  # newest first: the last word on it
    if resolved is False:
        return False
    repeated = intent_name is not None and any(
        entry.started_at > contact.started_at
        and entry.contact_id != contact.id
        and entry.continues_contact_id != contact.id
        and entry.intent == intent_name
        for entry in later
    )
    if repeated:
        return False
    if ensure_utc(now) < window_end and resolved is not True:
        return None
    return True
