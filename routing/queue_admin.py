"""Queues from the administration API and the console's "new queue" form: create one, change one.

The settings and the opening hours go through routing.queue_settings, the same checks the queue
page uses; this module adds what only a new queue has (its name and skill) and the overflow queue.
Every wrong field is named at once (`FieldErrors`); the caller's transaction is then rolled back,
so nothing is half-saved. A change that alters callback capacity says so (`QueueChange.replan`):
the caller re-plans the queue in the same unit of work (routing cannot reach the callbacks layer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.models import BusinessHours, Queue
from routing.queue_settings import set_business_hours, update_queue_settings
from terugbel.audit import record_audit
from terugbel.validation import ID_MAX, FieldErrors, NotFound

NAME = re.compile(r"^[a-z0-9_-]{1,60}$")
DEFAULTS: dict[str, Any] = {
    "holiday_country": "NL",
    "callback_share_percent": 30,
    "slot_minutes": 15,
    "default_handle_seconds": 360,
    "wait_threshold_seconds": 120,
    "callback_lead_minutes": 10,
    "overflow_queue_id": None,
    "hours": [],
}
# What a change of re-plans the queue's coming callback slots.
CAPACITY_FIELDS = frozenset(
    {"callback_share", "slot_minutes", "default_handle_seconds", "timezone", "holiday_country", "skill"}
)
_SETTINGS = (
    "label",
    "timezone",
    "wait_threshold_seconds",
    "slot_minutes",
    "holiday_country",
    "default_handle_seconds",
    "callback_lead_minutes",
)


@dataclass(frozen=True)
class QueueChange:
    """The queue after the change, and whether its callback capacity must be re-planned."""

    queue: Queue
    replan: bool


@dataclass(frozen=True)
class Opening:
    """One weekday's opening hours as given: 0 = Monday, times like 08:30."""

    weekday: int
    opens: str
    closes: str


def create_queue(
    session: Session, *, values: Mapping[str, Any], default_timezone: str, actor: str, now: datetime
) -> QueueChange:
    """Add a queue: name (unique), label, skill (default: the name), settings and opening hours."""
    wanted = {**DEFAULTS, "timezone": default_timezone, **values}
    errors: dict[str, str] = {}
    name = _name(wanted.get("name"), "name", errors)
    if name is not None and session.scalar(select(Queue.id).where(Queue.name == name)) is not None:
        errors["name"] = "another queue has this name"
    skill = _name(wanted.get("skill") or name, "skill", errors)
    overflow = _overflow(session, wanted["overflow_queue_id"], None, errors)
    if errors or name is None or skill is None:
        raise FieldErrors(errors)
    queue = Queue(name=name, label=name, skill=skill, overflow_queue_id=overflow)
    session.add(queue)
    session.flush()
    record_audit(
        session,
        at=now,
        actor=actor,
        action="queue.create",
        subject=f"queue {name}",
        details={"skill": skill, "overflow_queue_id": overflow},
    )
    _apply(session, queue, wanted, actor, now)
    return QueueChange(queue, replan=True)


def update_queue(
    session: Session, *, queue_id: int, values: Mapping[str, Any], actor: str, now: datetime
) -> QueueChange:
    """Change any of a queue's fields; `hours` replaces every opening period."""
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise NotFound(queue_id)
    before = _capacity_facts(queue)
    errors: dict[str, str] = {}
    if "name" in values:
        name = _name(values["name"], "name", errors)
        taken = select(Queue.id).where(Queue.name == name, Queue.id != queue_id)
        if name is not None and session.scalar(taken) is not None:
            errors["name"] = "another queue has this name"
    if "skill" in values:
        _name(values["skill"], "skill", errors)
    changed = {k: values[k] for k in ("name", "skill") if k in values}
    if "overflow_queue_id" in values:
        changed["overflow_queue_id"] = _overflow(session, values["overflow_queue_id"], queue_id, errors)
    if errors:
        raise FieldErrors(errors)
    for field, value in changed.items():
        setattr(queue, field, value)
    if changed:
        record_audit(
            session, at=now, actor=actor, action="queue.update", subject=f"queue {queue.name}", details=changed
        )
    current = queue_setting_values(queue)
    settings_given = any(field in values for field in (*_SETTINGS, "callback_share_percent"))
    _apply(session, queue, {**current, **values}, actor, now, settings=settings_given, hours="hours" in values)
    return QueueChange(queue, replan="hours" in values or _capacity_facts(queue) != before)


def opening_hours(session: Session, queue_id: int) -> list[Opening]:
    """The queue's opening periods, Monday first."""
    rows = session.scalars(
        select(BusinessHours).where(BusinessHours.queue_id == queue_id).order_by(BusinessHours.weekday)
    )
    return [Opening(h.weekday, h.opens.isoformat("minutes"), h.closes.isoformat("minutes")) for h in rows]


def queue_setting_values(queue: Queue) -> dict[str, Any]:
    """The queue's settings as the API gives and takes them (the share as a percentage)."""
    return {
        **{field: getattr(queue, field) for field in _SETTINGS},
        "name": queue.name,
        "skill": queue.skill,
        "overflow_queue_id": queue.overflow_queue_id,
        "callback_share_percent": round(queue.callback_share * 100, 4),
    }


def _capacity_facts(queue: Queue) -> dict[str, Any]:
    return {field: getattr(queue, field) for field in CAPACITY_FIELDS}


def _apply(
    session: Session,
    queue: Queue,
    values: Mapping[str, Any],
    actor: str,
    now: datetime,
    *,
    settings: bool = True,
    hours: bool = True,
) -> None:
    """Set the settings and the hours through routing.queue_settings; raise every wrong field at once."""
    errors: dict[str, str] = {}
    if settings:
        share = _percent(values.get("callback_share_percent"))
        texts: dict[str, str | None] = {field: _text(values.get(field)) for field in _SETTINGS}
        texts["callback_share"] = "" if share is None else repr(share / 100)
        _collect(errors, lambda: update_queue_settings(session, queue_id=queue.id, values=texts, actor=actor, now=now))
        if "callback_share" in errors:
            errors["callback_share_percent"] = "a percentage above 0 and at most 100 (e.g. 30)"
            del errors["callback_share"]
    if hours:
        periods = _periods(values.get("hours"), errors)
        if periods is not None:
            hour_errors: dict[str, str] = {}
            _collect(
                hour_errors,
                lambda: set_business_hours(session, queue_id=queue.id, hours=periods, actor=actor, now=now),
            )
            if hour_errors:
                errors["hours"] = "; ".join(f"{field}: {message}" for field, message in sorted(hour_errors.items()))
    if errors:
        raise FieldErrors(errors)
    session.flush()


def _collect(errors: dict[str, str], change: Callable[[], object]) -> None:
    try:
        change()
    except FieldErrors as exc:
        errors.update(exc.errors)


def _periods(raw: Any, errors: dict[str, str]) -> dict[int, tuple[str, str]] | None:
    """{weekday: (opens, closes)} from a list of openings; a weekday given twice is refused."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        errors["hours"] = "a list of {weekday, opens, closes}"
        return None
    periods: dict[int, tuple[str, str]] = {}
    for item in raw:
        opening = item if isinstance(item, Opening) else _opening(item)
        if opening is None or not 0 <= opening.weekday <= 6:
            errors["hours"] = "each opening needs a weekday 0–6 (0 = Monday), opens and closes like 08:30"
            return None
        if opening.weekday in periods:
            errors["hours"] = f"weekday {opening.weekday} is given twice"
            return None
        if not opening.opens or not opening.closes:
            errors["hours"] = f"weekday {opening.weekday}: give both opens and closes"
            return None
        periods[opening.weekday] = (opening.opens, opening.closes)
    return {day: periods.get(day, ("", "")) for day in range(7)}


def _opening(item: Any) -> Opening | None:
    if not isinstance(item, Mapping):
        return None
    weekday, opens, closes = item.get("weekday"), item.get("opens"), item.get("closes")
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not isinstance(opens, str):
        return None
    if not isinstance(closes, str):
        return None
    return Opening(weekday, opens.strip(), closes.strip())


def _name(raw: Any, field: str, errors: dict[str, str]) -> str | None:
    if not isinstance(raw, str) or not NAME.match(raw):
        errors[field] = "1–60 lower-case letters, digits, '-' or '_'"
        return None
    return raw


def _overflow(session: Session, raw: Any, queue_id: int | None, errors: dict[str, str]) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        errors["overflow_queue_id"] = "the id of another queue, or none"
        return None
    overflow = int(raw)
    if overflow == queue_id or overflow > ID_MAX or session.get(Queue, overflow) is None:
        errors["overflow_queue_id"] = "the id of another queue, or none"
        return None
    return overflow


def _percent(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    try:
        value = float(str(raw).strip().replace(",", "."))
    except ValueError:
        return None
    return value if 0 < value <= 100 else None


def _text(raw: Any) -> str | None:
    return None if raw is None else str(raw)
