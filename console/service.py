"""Changes the console makes that no other package offers a service for (yet).

An agent's state (through routing.agents), the outcome of a contact, and the settings of
queues, opening hours, closed days, shifts and slot capacity (capacity changes go through
callbacks.service.recompute_*, which moves promises that no longer fit). Rules, incidents and
intents go through their own packages' services.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.models import CallbackSlot
from callbacks.service import recompute_capacity, recompute_for_agent
from routing.agents import AgentStateRefused, UnknownAgent, choose_agent_state
from routing.models import Agent, BusinessHours, Contact, Holiday, Queue, Shift
from terugbel.audit import record_audit

MAX_NOTE_LENGTH = 1000


class ConsoleChangeRefused(ValueError):
    """The change is not allowed; `field` names the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotYours(LookupError):
    """The agent asked for something that is not theirs (treated as not found)."""


def set_agent_state(session: Session, *, agent_id: int, state: str, now: datetime) -> Agent:
    """Set an agent available or away (routing.agents decides); the form's field names the refusal."""
    try:
        return choose_agent_state(session, agent_id, state, now)
    except AgentStateRefused as refused:
        raise ConsoleChangeRefused("state", refused.message) from refused
    except UnknownAgent as unknown:
        raise NotYours(agent_id) from unknown


def record_outcome(
    session: Session, *, contact_id: int, agent_id: int, resolved: bool, note: str, now: datetime
) -> Contact:
    """Record whether the agent's contact was resolved or needs a follow-up, with a short note."""
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ConsoleChangeRefused("note", f"at most {MAX_NOTE_LENGTH} characters")
    contact = session.get(Contact, contact_id)
    if contact is None or contact.agent_id != agent_id:
        raise NotYours(contact_id)
    contact.resolved = resolved
    contact.outcome_note = note or None
    if contact.ended_at is None:
        contact.ended_at = now
    record_audit(
        session,
        at=now,
        actor=f"agent:{agent_id}",
        action="contact.outcome",
        subject=f"contact:{contact_id}",
        details={"resolved": resolved},
    )
    return contact


# --- queues, hours, holidays, shifts, slot capacity ----------------------------------------------
# Neither routing nor callbacks has editing services for these yet; the checks mirror the models'
# constraints so a bad form is refused on its field instead of by the database.

SLOT_MINUTES = (5, 10, 15, 20, 30, 60)
CAPACITY_HORIZON = timedelta(days=14)


class FieldErrors(ValueError):
    """The change is refused; `errors` maps each form field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def update_queue_settings(
    session: Session, *, queue_id: int, values: dict[str, str], actor: str, now: datetime
) -> Queue:
    """Change a queue's label, time zone, wait threshold and callback capacity settings."""
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise NotYours(queue_id)
    errors: dict[str, str] = {}
    label = values.get("label", "").strip()
    if not label or len(label) > 120:
        errors["label"] = "give a label of 1–120 characters"
    zone = values.get("timezone", "").strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"unknown time zone '{zone}' (e.g. Europe/Amsterdam)"
    threshold = _whole(values.get("wait_threshold_seconds"), 0, 3600)
    if threshold is None:
        errors["wait_threshold_seconds"] = "a whole number of seconds from 0 to 3600"
    slot = _whole(values.get("slot_minutes"), 5, 60)
    if slot not in SLOT_MINUTES:
        errors["slot_minutes"] = f"one of {', '.join(map(str, SLOT_MINUTES))}"
    try:
        share = float(values.get("callback_share", "").replace(",", "."))
    except ValueError:
        share = -1.0
    if not 0 < share <= 1:
        errors["callback_share"] = "a fraction above 0 and at most 1 (e.g. 0.3)"
    if errors:
        raise FieldErrors(errors)
    changed = {
        "label": label,
        "timezone": zone,
        "wait_threshold_seconds": threshold,
        "slot_minutes": slot,
        "callback_share": share,
    }
    for name, value in changed.items():
        setattr(queue, name, value)
    record_audit(session, at=now, actor=actor, action="queue.update", subject=f"queue {queue.name}", details=changed)
    return queue


def set_business_hours(
    session: Session, *, queue_id: int, hours: dict[int, tuple[str, str]], actor: str, now: datetime
) -> None:
    """Replace a queue's opening hours: {weekday: (opens, closes)}, both empty for closed that day."""
    if session.get(Queue, queue_id) is None:
        raise NotYours(queue_id)
    errors: dict[str, str] = {}
    parsed: dict[int, tuple[time, time]] = {}
    for weekday, (opens, closes) in sorted(hours.items()):
        if not opens and not closes:
            continue
        start, end = _clock(opens), _clock(closes)
        if start is None:
            errors[f"opens-{weekday}"] = "a time like 08:30"
        if end is None:
            errors[f"closes-{weekday}"] = "a time like 17:00"
        if start is not None and end is not None:
            if end <= start:
                errors[f"closes-{weekday}"] = "must be after the opening time"
            else:
                parsed[weekday] = (start, end)
    if errors:
        raise FieldErrors(errors)
    for row in session.scalars(select(BusinessHours).where(BusinessHours.queue_id == queue_id)):
        session.delete(row)
    session.flush()
    for weekday, (start, end) in parsed.items():
        session.add(BusinessHours(queue_id=queue_id, weekday=weekday, opens=start, closes=end))
    record_audit(
        session,
        at=now,
        actor=actor,
        action="queue.hours",
        subject=f"queue {queue_id}",
        details={str(d): [s.isoformat("minutes"), e.isoformat("minutes")] for d, (s, e) in parsed.items()},
    )


def add_holiday(session: Session, *, queue_id: int | None, day: str, name: str, actor: str, now: datetime) -> Holiday:
    """Close a queue (or every queue, `queue_id` None) on a day."""
    errors: dict[str, str] = {}
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        errors["day"] = "a date like 2026-12-24"
        parsed = None
    name = name.strip()
    if not name or len(name) > 120:
        errors["name"] = "give a name of 1–120 characters"
    if parsed is not None and session.scalar(
        select(Holiday.id).where(
            Holiday.day == parsed, Holiday.queue_id.is_(None) if queue_id is None else Holiday.queue_id == queue_id
        )
    ):
        errors["day"] = "that day is already closed"
    if errors:
        raise FieldErrors(errors)
    holiday = Holiday(queue_id=queue_id, day=parsed, name=name)
    session.add(holiday)
    session.flush()
    record_audit(
        session,
        at=now,
        actor=actor,
        action="holiday.add",
        subject=f"holiday {parsed}",
        details={"queue_id": queue_id, "name": name},
    )
    return holiday


def delete_holiday(session: Session, *, holiday_id: int, actor: str, now: datetime) -> None:
    holiday = session.get(Holiday, holiday_id)
    if holiday is None:
        raise NotYours(holiday_id)
    record_audit(session, at=now, actor=actor, action="holiday.delete", subject=f"holiday {holiday.day}")
    session.delete(holiday)


def add_shift(
    session: Session, *, agent_id: str, starts: str, ends: str, zone: str, actor: str, now: datetime
) -> Shift:
    """Add a shift (local times in `zone`) and let callback capacity follow it."""
    errors: dict[str, str] = {}
    agent = session.get(Agent, _whole(agent_id, 1, 10**9) or 0)
    if agent is None or not agent.active:
        errors["agent"] = "choose an agent"
    start, end = _local(starts, zone), _local(ends, zone)
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
    recompute_for_agent(session, agent.id, start, end, now)
    return shift


def delete_shift(session: Session, *, shift_id: int, actor: str, now: datetime) -> None:
    """Remove a shift; promises that no longer fit are moved by us (and the callers told)."""
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotYours(shift_id)
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
    recompute_for_agent(session, agent_id, start, end, now)


def set_slot_capacity(
    session: Session, *, slot_id: int, override: str, closed: bool, actor: str, now: datetime
) -> CallbackSlot:
    """Override a slot's capacity (empty: derive it from shifts again) or close it; moves what no longer fits."""
    slot = session.get(CallbackSlot, slot_id)
    if slot is None:
        raise NotYours(slot_id)
    value = None
    if override.strip():
        value = _whole(override, 0, 1000)
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
    recompute_capacity(session, slot.queue_id, slot.starts_at, slot.ends_at, now)
    return slot


def _whole(raw: str | None, low: int, high: int) -> int | None:
    try:
        value = int(str(raw).strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


def _clock(raw: str) -> time | None:
    try:
        return time.fromisoformat(raw.strip())
    except ValueError:
        return None


def _local(raw: str, zone: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))
