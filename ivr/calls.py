"""A call through the voice menu: answered, the caller's input taken, the hold message, leaving
the queue, and Twilio's status callbacks that complete the contact.

Each public function is one transaction: it loads the facts, runs the pure flow (ivr/flow.py),
carries out the commands the flow gives (ivr/commands.py) and stores the new state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callbacks.offers import offer_slots
from ivr.call_sessions import find_call, flow_state_of, require_call, store_flow_state
from ivr.caller_facts import caller_and_facts, caller_zone, facts_for
from ivr.commands import finish_step, slot_choices
from ivr.flow import advance, language_for, start
from ivr.flow_types import Action, Ask, CallerInput, Command, FlowState, Routed, SlotChoice
from ivr.new_call import insert_call
from ivr.prompts import apology, wait_prompt
from routing import distribution
from routing.models import Contact, ContactChannel, ContactOutcome, QueueEntry, QueueEntryState
from telephony.call_status import FINAL_CALL_STATUSES
from terugbel.clock import ensure_utc
from terugbel.logs import get_logger
from terugbel.phone import try_e164
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work

log = get_logger(__name__)

_STATUS_RANK = {"queued": 0, "initiated": 1, "ringing": 2, "answered": 3, "in-progress": 3}
_FINAL_RANK = 4


def answer_call(runtime: Runtime, *, call_sid: str, from_: str | None, now: datetime) -> Action:
    """An incoming call: identify the caller, open the contact and session, and say the first prompt."""
    number = try_e164(from_, runtime.settings.default_region)
    try:
        return _open_call(runtime, call_sid, number, now)
    except IntegrityError:
        # Twilio retried the first request (the CallSid is ours already): say the first step again,
        # change nothing twice. Found by the unique CallSid, so the common case costs no extra query.
        with runtime.db.session() as session:
            existing = require_call(session, call_sid)
            _, facts = caller_and_facts(session, runtime, existing.number, now)
            _, out = start(facts, existing.language, now)
            if isinstance(out, Command):
                raise RuntimeError("the first step of a call is never a command") from None
            return out


def _open_call(runtime: Runtime, call_sid: str, number: str | None, now: datetime) -> Action:
    # One read and one write (a single statement on PostgreSQL): no transaction needed around them.
    with runtime.db.statement_session() as session:
        caller, facts = caller_and_facts(session, runtime, number, now)
        language = language_for(caller.language if caller else None, number)
        # The first step needs nothing from the database beyond the facts: decide it before inserting,
        # so the contact and the session are written once, already in their first state.
        state, out = start(facts, language, now)
        if isinstance(out, Command):
            raise RuntimeError("the first step of a call is never a command")
        insert_call(
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
            # The first call from a number makes its caller: history, sticky routing and first-contact
            # resolution then know them from their second call on. A withheld number stays anonymous.
            new_caller=caller is None and number is not None,
        )
        return out


def take_input(runtime: Runtime, *, call_sid: str, event: CallerInput, now: datetime) -> Action:
    """The caller's keys or words for the current step."""
    with unit_of_work(runtime) as session:
        call = require_call(session, call_sid)
        facts = facts_for(session, runtime, call, now)
        state = flow_state_of(call)
        state, out = advance(state, event, facts, now)
        return finish_step(session, runtime, call, state, out, facts, now)


def wait_message(runtime: Runtime, *, call_sid: str, position: int, waited_seconds: int, now: datetime) -> Ask:
    """One loop of the hold message: the caller is handed to a free agent first, if there is one,
    so what they hear matches what happens: being put through, or their place, the wait and a
    callback slot instead."""
    with runtime.db.session() as session:
        entry_id, entry_state = _queue_entry_of(session, call_sid)
    if entry_state == QueueEntryState.WAITING.value and entry_id is not None:
        # The caller is surely in Twilio's queue now: hand them to a free agent, if there is one.
        try:
            distribution.caller_enqueued(runtime, entry_id)
        except Exception:
            log.exception("handing the waiting caller to an agent failed")
    with unit_of_work(runtime) as session:
        call = require_call(session, call_sid)
        state = flow_state_of(call)
        _, entry_state = _queue_entry_of(session, call_sid)
        connecting = entry_state == QueueEntryState.RESERVED.value
        offer: SlotChoice | None = None
        if call.number and state.queue_id is not None and not connecting:
            offers = offer_slots(
                session, queue_id=state.queue_id, now=now, zone=caller_zone(runtime, call.number), count=1
            )
            offer = slot_choices(offers)[0] if offers else None
        state.offers = [[offer.slot_id, offer.start.isoformat(), offer.end.isoformat()]] if offer else []
        state.step = "queued"
        store_flow_state(call, state, now)
        return wait_prompt(
            state,
            position=position,
            waited_seconds=waited_seconds,
            offer=offer,
            zone=caller_zone(runtime, call.number),
            now=now,
            connecting=connecting,
        )


def _queue_entry_of(session: Session, call_sid: str) -> tuple[int | None, str | None]:
    row = session.execute(select(QueueEntry.id, QueueEntry.state).where(QueueEntry.call_sid == call_sid)).first()
    return (row[0], row[1]) if row is not None else (None, None)


def queue_result(runtime: Runtime, *, call_sid: str, result: str, now: datetime) -> Action | None:
    """Twilio's <Enqueue> action: the caller left the queue. None: nothing more to say (hang up)."""
    with unit_of_work(runtime) as session:
        call = require_call(session, call_sid)
        state = flow_state_of(call)
        if result in {"bridged", "hangup", "leave", "redirected"} or state.outcome == "callback_booked":
            return None
        # queue-full, error, system-error: we could not hold the caller, so a callback or a person.
        distribution.leave_queue(session, call_sid, now)
        facts = facts_for(session, runtime, call, now)
        state.queue_open = False
        state.path.append(f"queue:{result}")
        state.outcome = None
        if call.number and state.queue_id is not None:
            offers = slot_choices(
                offer_slots(session, queue_id=state.queue_id, now=now, zone=caller_zone(runtime, call.number))
            )
            if offers:
                state, out = advance(
                    state,
                    Routed(state.queue_id, state.queue_name or "", False, state.wait_seconds, True, None, offers),
                    facts,
                    now,
                )
                return finish_step(session, runtime, call, state, out, facts, now)
        action = apology(
            state.language,
            overflow_number=runtime.settings.overflow_number,
            callback=None,
            zone=caller_zone(runtime, call.number),
            now=now,
        )
        store_flow_state(call, state, now)
        return action


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
        call = find_call(session, call_sid, lock=True)
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
        state = flow_state_of(call)
        if duration is not None and duration >= 0:
            contact.ended_at = ensure_utc(call.answered_at) + timedelta(seconds=duration)
        else:
            contact.ended_at = now
        contact.path = list(state.path)
        contact.questions_asked = state.questions
        if contact.outcome == ContactOutcome.IN_PROGRESS.value:
            contact.outcome = _final_outcome(state).value
        distribution.leave_queue(session, call_sid, now)
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
