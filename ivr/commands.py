"""Carrying out what the voice menu asks for: route the contact, book, offer or cancel a callback,
subscribe to incident texts. Each result goes back into the flow until it says what the caller hears.

Runs in the caller's transaction; dial jobs and texts a booking causes go out after commit
(terugbel.unit_of_work).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.booking import book_callback, cancel_promise, open_promise_for
from callbacks.errors import NoSlotAvailable, PromiseBusy, PromiseNotFound, UnusableNumber
from callbacks.offers import offer_slots
from callbacks.texts import takes_texts
from ivr.call_sessions import store_flow_state
from ivr.caller_facts import caller_zone
from ivr.flow import advance
from ivr.flow_types import (
    Action,
    BookCallback,
    Booked,
    CallFacts,
    CancelPromise,
    Command,
    Enqueue,
    Event,
    FlowState,
    NotBooked,
    OfferSlots,
    PromiseCancelled,
    PromiseGone,
    RouteContact,
    Routed,
    SlotChoice,
    SlotsOffered,
    Subscribed,
    SubscribeIncidents,
)
from ivr.models import CallSession
from routing import distribution
from routing.config import center_config
from routing.hours import next_opening
from routing.models import Caller, Contact, ContactOutcome, IncidentSubscription, QueueEntry, QueueEntryState
from routing.route import route_contact
from terugbel.runtime import Runtime

MAX_COMMANDS = 6  # a flow step never needs more; a loop beyond this is a bug, not a call to keep alive


def finish_step(
    session: Session,
    runtime: Runtime,
    call: CallSession,
    state: FlowState,
    out: Action | Command,
    facts: CallFacts,
    now: datetime,
) -> Action:
    """Carry out the flow's commands until it names an action; store the state and the contact."""
    for _ in range(MAX_COMMANDS):
        if not isinstance(out, Command):
            break
        result = _carry_out(session, runtime, call, state, out, now)
        state, out = advance(state, result, facts, now)
    else:
        raise RuntimeError("the flow kept asking for commands")
    if isinstance(out, Enqueue):
        _join_queue(session, call, state, now)
    store_flow_state(call, state, now)
    _update_contact(session, call, state)
    if state.switched and call.caller_id is not None:
        caller = session.get(Caller, call.caller_id)
        if caller is not None:
            caller.language = state.language
    return out


def _carry_out(
    session: Session, runtime: Runtime, call: CallSession, state: FlowState, command: Command, now: datetime
) -> Event:
    if isinstance(command, SubscribeIncidents):
        _subscribe(session, call, command.incident_ids, now)
        return Subscribed()
    if isinstance(command, RouteContact):
        return _route(session, runtime, call, state, command, now)
    if isinstance(command, BookCallback):
        return _book(session, runtime, call, state, command, now)
    if isinstance(command, OfferSlots):
        return _offer(session, runtime, call, state, command, now)
    if isinstance(command, CancelPromise):
        return _cancel(session, command, now)
    raise TypeError(f"unknown command {command!r}")


def _route(
    session: Session, runtime: Runtime, call: CallSession, state: FlowState, command: RouteContact, now: datetime
) -> Routed:
    """Route the contact to a queue; with it, callback offers if the caller may want one."""
    contact = session.get(Contact, call.contact_id) if call.contact_id else None
    if contact is not None and command.words:
        contact.transcript = command.words
    decision = route_contact(
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
    offers: tuple[SlotChoice, ...] = ()
    if call.number and (decision.offer_callback_first or not decision.queue_open):
        zone = caller_zone(runtime, call.number)
        offers = slot_choices(offer_slots(session, queue_id=decision.queue_id, now=now, zone=zone))
    opens_at = None
    if not decision.queue_open:
        queue = center_config(session).queues_by_id.get(decision.queue_id)
        if queue is not None:
            opens_at = next_opening(queue.hours, queue.closed_days, now)
    return Routed(
        queue_id=decision.queue_id,
        queue_name=decision.queue_name,
        open=decision.queue_open,
        wait_seconds=decision.wait_estimate_seconds,
        offer_callback_first=decision.offer_callback_first,
        announcement=decision.announcement,
        offers=offers,
        opens_at=opens_at,
    )


def _book(
    session: Session, runtime: Runtime, call: CallSession, state: FlowState, command: BookCallback, now: datetime
) -> Booked | NotBooked:
    """Book the callback the caller chose; a refusal says why, with fresh offers where they help."""
    zone = caller_zone(runtime, call.number)
    contact = session.get(Contact, call.contact_id) if call.contact_id else None
    try:
        # Another caller may have taken the last place between our offer and this key press. The
        # caller said yes to a callback: the nearest time with room, said to them, not a new question.
        promise = book_callback(
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
            priority=contact.priority if contact else 0,
            region=runtime.settings.default_region,
            nearest_if_full=True,
        )
    except NoSlotAvailable:
        return NotBooked("no_slot")
    except PromiseBusy:
        return NotBooked("busy")
    except UnusableNumber as refused:
        return NotBooked("number", _fresh_offers(session, command.queue_id, now, zone), refused.reason)
    distribution.leave_queue(session, call.call_sid, now)
    if contact is not None:
        contact.outcome = ContactOutcome.CALLBACK_BOOKED.value
    return Booked(
        promise.window_start,
        promise.window_end,
        promise.number,
        takes_texts(session, promise.number),
        instead=command.slot_id is not None and promise.slot_id != command.slot_id,
    )


def _offer(
    session: Session, runtime: Runtime, call: CallSession, state: FlowState, command: OfferSlots, now: datetime
) -> SlotsOffered:
    """Offer callback slots; moving an open promise, not the slot it already has."""
    exclude: list[int] = []
    if state.promise_id is not None:
        promise = open_promise_for(session, call.number or "")
        if promise is not None and promise.slot_id is not None:
            exclude.append(promise.slot_id)
    zone = caller_zone(runtime, call.number)
    offers = slot_choices(offer_slots(session, queue_id=command.queue_id, now=now, zone=zone, exclude=exclude))
    return SlotsOffered(command.queue_id, offers)


def _cancel(session: Session, command: CancelPromise, now: datetime) -> PromiseCancelled | PromiseGone:
    """Cancel the caller's promise; one that is no longer open is gone."""
    try:
        promise = cancel_promise(session, command.promise_id, now, "cancelled by the caller in the menu")
    except (PromiseNotFound, ValueError):
        return PromiseGone()
    return PromiseCancelled(promise.window_start, promise.window_end)


def _fresh_offers(session: Session, queue_id: int, now: datetime, zone: str) -> tuple[SlotChoice, ...]:
    return slot_choices(offer_slots(session, queue_id=queue_id, now=now, zone=zone))


def slot_choices(offers: Any) -> tuple[SlotChoice, ...]:
    """The callback offers as the flow speaks of them."""
    return tuple(SlotChoice(o.slot_id, o.window_start, o.window_end) for o in offers)


def _join_queue(session: Session, call: CallSession, state: FlowState, now: datetime) -> None:
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


def _update_contact(session: Session, call: CallSession, state: FlowState) -> None:
    contact = session.get(Contact, call.contact_id) if call.contact_id else None
    if contact is None:
        return
    contact.path = list(state.path)
    contact.questions_asked = state.questions
    if state.words:
        contact.transcript = state.words


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
