"""Shifts and slot capacity: a supervisor's changes to who works when, and what a slot may hold.

Callback capacity follows staffing, so each change here re-plans the slots it touches
(callbacks/replanning.py); promises that no longer fit are moved by us and their callers told at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from callbacks.models import CallbackSlot
from callbacks.replanning import ReplanCause, replan_for_agent, replan_queue
from routing.models import Agent, Shift
from terugbel.audit import record_audit
from terugbel.validation import FieldErrors, NotFound, local_moment, whole_number


def add_shift(
    session: Session, *, agent_id: str, starts: str, ends: str, zone: str, actor: str, now: datetime
) -> Shift:
    """Add a shift (local times in `zone`) and let callback capacity follow it."""
    errors: dict[str, str] = {}
    agent = session.get(Agent, whole_number(agent_id, 1, 10**9) or 0)
    if agent is None or not agent.active:
        errors["agent"] = "choose an agent"
    start, end = local_moment(starts, zone), local_moment(ends, zone)
    if start is None:
        errors["starts"] = "a date and time like 2026-11-23T08:00"
    if end is None:
        errors["ends"] = "a date and time like 2026-11-23T17:00"
    if start is not None and end is not None and not start < end <= start + timedelta(hours=16):
        errors["ends"] = "must be after the start, at most 16 hours later"
    if errors or agent is None or start is None or end is None:
        raise FieldErrors(errors)
    shift = Shift(agent_id=agent.id, starts_at=start, ends_at=end)
    session.add(shift)
    session.flush()
    record_audit(
        session,
        at=now,
        actor=actor,
        action="shift.add",
        subject=f"agent {agent.id}",
        details={"starts_at": start.isoformat(), "ends_at": end.isoformat()},
    )
    replan_for_agent(session, agent.id, now=now, cause=ReplanCause.SHIFT_ADDED, start=start, end=end)
    return shift


def delete_shift(session: Session, *, shift_id: int, actor: str, now: datetime) -> None:
    """Remove a shift; promises that no longer fit are moved by us (and the callers told)."""
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(shift_id)
    agent_id, start, end = shift.agent_id, shift.starts_at, shift.ends_at
    record_audit(
        session,
        at=now,
        actor=actor,
        action="shift.delete",
        subject=f"agent {agent_id}",
        details={"starts_at": start.isoformat(), "ends_at": end.isoformat()},
    )
    session.delete(shift)
    session.flush()
    replan_for_agent(session, agent_id, now=now, cause=ReplanCause.SHIFT_REMOVED, start=start, end=end)


def set_slot_capacity(
    session: Session, *, slot_id: int, override: str, closed: bool, actor: str, now: datetime
) -> CallbackSlot:
    """Override a slot's capacity (empty: derive it from shifts again) or close it; moves what no longer fits."""
    slot = session.get(CallbackSlot, slot_id)
    if slot is None:
        raise NotFound(slot_id)
    value = None
    if override.strip():
        value = whole_number(override, 0, 1000)
        if value is None:
            raise FieldErrors({f"override-{slot_id}": "a whole number from 0 to 1000, or empty"})
    slot.capacity_override = 0 if closed else value
    slot.closed = closed
    record_audit(
        session,
        at=now,
        actor=actor,
        action="slot.capacity",
        subject=f"slot {slot_id}",
        details={"override": value, "closed": closed},
    )
    session.flush()
    replan_queue(
        session, slot.queue_id, now=now, cause=ReplanCause.SLOT_CAPACITY, start=slot.starts_at, end=slot.ends_at
    )
    return slot


def set_slot_capacities(
    session: Session, *, queue_id: int, overrides: Mapping[int, str], actor: str, now: datetime
) -> list[CallbackSlot]:
    """Set the capacity of many slots of one queue at once (the week grid): all of them or none.

    Each slot goes through `set_slot_capacity` (validated, audited, what no longer fits moved), and
    a changed slot is open again. Every bad value is named before the caller's transaction is
    rolled back, so a supervisor sees all the cells to fix at once.
    """
    errors: dict[str, str] = {}
    changed = []
    for slot_id, override in overrides.items():
        slot = session.get(CallbackSlot, slot_id)
        if slot is None or slot.queue_id != queue_id:
            raise NotFound(slot_id)
        try:
            changed.append(
                set_slot_capacity(session, slot_id=slot_id, override=override, closed=False, actor=actor, now=now)
            )
        except FieldErrors as exc:
            errors.update(exc.errors)
    if errors:
        raise FieldErrors(errors)
    return changed
