"""A supervisor's changes to a queue: its settings, opening hours and closed days.

Each function checks every field before it writes anything (the checks mirror the models'
constraints, so a bad form is refused on its field instead of by the database) and records the
change in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as public_holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.models import BusinessHours, Holiday, Queue
from terugbel.audit import record_audit
from terugbel.validation import FieldErrors, NotFound, clock_time, whole_number

SLOT_MINUTES = (5, 10, 15, 20, 30, 60)
# The countries whose public holidays the `holidays` package knows, by their ISO 3166 code.
HOLIDAY_COUNTRIES = tuple(sorted(code for code in public_holidays.list_supported_countries() if len(code) == 2))
HANDLE_SECONDS = (60, 7200)
LEAD_MINUTES = (0, 240)


def update_queue_settings(
    session: Session, *, queue_id: int, values: Mapping[str, str | None], actor: str, now: datetime
) -> Queue:
    """Change a queue's label, time zone, wait threshold and callback capacity settings.

    `holiday_country`, `default_handle_seconds` and `callback_lead_minutes` change too when
    `values` has them (the API sets them; the console's settings form leaves them be).
    """
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise NotFound(queue_id)
    errors: dict[str, str] = {}
    label = (values.get("label") or "").strip()
    if not label or len(label) > 120:
        errors["label"] = "give a label of 1–120 characters"
    zone = (values.get("timezone") or "").strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"unknown time zone '{zone}' (e.g. Europe/Amsterdam)"
    threshold = whole_number(values.get("wait_threshold_seconds"), 0, 3600)
    if threshold is None:
        errors["wait_threshold_seconds"] = "a whole number of seconds from 0 to 3600"
    slot = whole_number(values.get("slot_minutes"), 5, 60)
    if slot not in SLOT_MINUTES:
        errors["slot_minutes"] = f"one of {', '.join(map(str, SLOT_MINUTES))}"
    try:
        share = float((values.get("callback_share") or "").replace(",", "."))
    except ValueError:
        share = -1.0
    if not 0 < share <= 1:
        errors["callback_share"] = "a fraction above 0 and at most 1 (e.g. 0.3)"
    optional = _optional_settings(values, errors)
    if errors:
        raise FieldErrors(errors)
    changed: dict[str, Any] = {
        "label": label,
        "timezone": zone,
        "wait_threshold_seconds": threshold,
        "slot_minutes": slot,
        "callback_share": share,
        **optional,
    }
    for name, value in changed.items():
        setattr(queue, name, value)
    record_audit(session, at=now, actor=actor, action="queue.update", subject=f"queue {queue.name}", details=changed)
    return queue


def _optional_settings(values: Mapping[str, str | None], errors: dict[str, str]) -> dict[str, Any]:
    """The settings only the API sends: checked (into `errors`) when `values` has them."""
    settings: dict[str, Any] = {}
    if "holiday_country" in values:
        country = (values["holiday_country"] or "").strip().upper() or None
        if country is not None and country not in HOLIDAY_COUNTRIES:
            errors["holiday_country"] = "a country code like NL or BE whose public holidays are known, or none"
        settings["holiday_country"] = country
    if "default_handle_seconds" in values:
        handle = whole_number(values["default_handle_seconds"], *HANDLE_SECONDS)
        if handle is None:
            errors["default_handle_seconds"] = "a whole number of seconds from 60 to 7200"
        settings["default_handle_seconds"] = handle
    if "callback_lead_minutes" in values:
        lead = whole_number(values["callback_lead_minutes"], *LEAD_MINUTES)
        if lead is None:
            errors["callback_lead_minutes"] = "a whole number of minutes from 0 to 240"
        settings["callback_lead_minutes"] = lead
    return settings


def set_business_hours(
    session: Session, *, queue_id: int, hours: dict[int, tuple[str, str]], actor: str, now: datetime
) -> None:
    """Replace a queue's opening hours: {weekday: (opens, closes)}, both empty for closed that day."""
    if session.get(Queue, queue_id) is None:
        raise NotFound(queue_id)
    errors: dict[str, str] = {}
    parsed: dict[int, tuple[time, time]] = {}
    for weekday, (opens, closes) in sorted(hours.items()):
        if not opens and not closes:
            continue
        start, end = clock_time(opens), clock_time(closes)
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
    """Open a closed day again."""
    holiday = session.get(Holiday, holiday_id)
    if holiday is None:
        raise NotFound(holiday_id)
    record_audit(session, at=now, actor=actor, action="holiday.delete", subject=f"holiday {holiday.day}")
    session.delete(holiday)
