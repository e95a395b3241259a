"""The numbers that matter, computed from plain facts (no database, no Flask): per queue over a period.

How each number is counted is said on the metrics page, in both languages:
`console.texts.METRIC_DEFINITIONS`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from routing.repeats import REPEAT_WINDOW, makes_repeat

# Outcomes that end a contact in a way the caller can use: the base of first-contact resolution.
HANDLED_OUTCOMES = frozenset({"agent", "callback_booked", "answered", "informed_by_incident"})
RESOLVED_STATE = "resolved"  # the caller reached an agent another way while the callback was pending
# Promise states that no longer count: the caller cancelled, a newer promise replaced it, or the
# caller got through another way.
NOT_DUE_STATES = frozenset({"cancelled", "moved", RESOLVED_STATE})


@dataclass(frozen=True)
class ContactFact:
    contact_id: int
    caller_id: int | None
    queue_id: int | None
    intent: str | None
    channel: str
    outcome: str
    resolved: bool | None
    started_at: datetime
    routed_at: datetime | None
    questions_asked: int
    continues_contact_id: int | None = None  # a kept callback: the call that booked it


@dataclass(frozen=True)
class PromiseFact:
    promise_id: int
    queue_id: int
    state: str
    window_start: datetime
    window_end: datetime
    first_dial_at: datetime | None
    connected_at: datetime | None
    moved_by_us: bool
    contact_id: int | None = None  # the contact that booked it


@dataclass(frozen=True)
class QueueNumbers:
    queue: str  # the queue's name, "" for contacts without a queue, "*" for the total
    calls: int
    fcr_base: int
    fcr_resolved: int
    fcr_rate: float | None
    repeat_base: int
    repeat_contacts: int
    repeat_rate: float | None
    promises_due: int
    promises_kept: int
    kept_rate: float | None
    promises_connected: int
    connected_rate: float | None
    late_callbacks: int
    average_lateness_seconds: float | None
    resolved_by_other_contact: int
    moved_by_us: int
    average_seconds_to_routed: float | None
    average_questions: float | None
    informed_by_incident: int
    abandoned_in_menu: int
    abandoned_in_queue: int


TOTAL = "*"
NO_QUEUE = ""


def numbers_by_queue(
    contacts: Sequence[ContactFact],
    promises: Sequence[PromiseFact],
    queue_names: dict[int, str],
    start: datetime,
    end: datetime,
    now: datetime,
    window: timedelta = REPEAT_WINDOW,
) -> list[QueueNumbers]:
    """The numbers of [start, end) per queue (by name), then the total over all queues.

    `contacts` must include the repeat `window` before and after the period, so repeats can be seen.
    """
    in_period = [c for c in contacts if start <= c.started_at < end]
    due = [p for p in promises if start <= p.window_start < end]
    firsts = one_per_contact(contacts, promises)
    fcr = {
        c.contact_id: _first_contact_resolution(firsts[c.contact_id], firsts.values(), now, window)
        for c in in_period
        if c.contact_id in firsts
    }
    repeats = {
        c.contact_id: _is_repeat(firsts[c.contact_id], firsts.values(), window)
        for c in in_period
        if c.contact_id in firsts
    }
    keys = sorted(
        {c.queue_id for c in in_period} | {p.queue_id for p in due} | set(queue_names),
        key=lambda k: (k is None, k or 0),
    )
    rows = [
        _numbers(
            queue_names.get(key, NO_QUEUE) if key is not None else NO_QUEUE,
            [c for c in in_period if c.queue_id == key],
            [p for p in due if p.queue_id == key],
            fcr,
            repeats,
            now,
        )
        for key in keys
    ]
    rows.append(_numbers(TOTAL, in_period, due, fcr, repeats, now))
    return rows


def numbers_per_day(
    contacts: Sequence[ContactFact],
    promises: Sequence[PromiseFact],
    days: Sequence[tuple[datetime, datetime]],
    now: datetime,
    window: timedelta = REPEAT_WINDOW,
) -> list[tuple[datetime, QueueNumbers]]:
    """The totals of each (start, end) day: the series behind the charts."""
    return [
        (day_start, numbers_by_queue(contacts, promises, {}, day_start, day_end, now, window)[-1])
        for day_start, day_end in days
    ]


def _numbers(
    queue: str,
    contacts: list[ContactFact],
    promises: list[PromiseFact],
    fcr: dict[int, bool | None],
    repeats: dict[int, bool | None],
    now: datetime,
) -> QueueNumbers:
    calls = [c for c in contacts if c.channel == "call"]
    fcr_known = [v for v in (fcr.get(c.contact_id) for c in contacts) if v is not None]
    repeat_known = [v for v in (repeats.get(c.contact_id) for c in contacts) if v is not None]
    due = [p for p in promises if p.state not in NOT_DUE_STATES and (p.window_end <= now or p.first_dial_at)]
    dialled = [p for p in due if p.first_dial_at is not None]
    kept = [p for p in dialled if p.window_start <= p.first_dial_at <= p.window_end]  # type: ignore[operator]
    lateness = [max(0.0, (p.first_dial_at - p.window_end).total_seconds()) for p in dialled]  # type: ignore[operator]
    routed = [(c.routed_at - c.started_at).total_seconds() for c in calls if c.routed_at is not None]
    return QueueNumbers(
        queue=queue,
        calls=len(calls),
        fcr_base=len(fcr_known),
        fcr_resolved=sum(1 for v in fcr_known if v),
        fcr_rate=_rate(sum(1 for v in fcr_known if v), len(fcr_known)),
        repeat_base=len(repeat_known),
        repeat_contacts=sum(1 for v in repeat_known if v),
        repeat_rate=_rate(sum(1 for v in repeat_known if v), len(repeat_known)),
        promises_due=len(due),
        promises_kept=len(kept),
        kept_rate=_rate(len(kept), len(due)),
        promises_connected=sum(1 for p in due if p.connected_at is not None),
        connected_rate=_rate(sum(1 for p in due if p.connected_at is not None), len(due)),
        late_callbacks=sum(1 for seconds in lateness if seconds > 0),
        average_lateness_seconds=_mean(lateness),
        resolved_by_other_contact=sum(1 for p in promises if p.state == RESOLVED_STATE),
        moved_by_us=sum(1 for p in promises if p.moved_by_us),
        average_seconds_to_routed=_mean(routed),
        average_questions=_mean([c.questions_asked for c in calls]),
        informed_by_incident=sum(1 for c in contacts if c.outcome == "informed_by_incident"),
        abandoned_in_menu=sum(1 for c in calls if c.outcome == "abandoned" and c.routed_at is None),
        abandoned_in_queue=sum(1 for c in calls if c.outcome == "abandoned" and c.routed_at is not None),
    )


def one_per_contact(contacts: Iterable[ContactFact], promises: Iterable[PromiseFact]) -> dict[int, ContactFact]:
    """The contacts as the numbers count them, by id: a kept callback folded into the call that booked it.

    The continuation is left out; the call carries the continuation's resolved mark when its agent
    set one, and counts as unresolved when its callback was closed because the caller got through
    another way.
    """
    contacts = list(contacts)
    marks: dict[int, bool] = {}
    for later in sorted(contacts, key=lambda c: c.started_at):
        if later.continues_contact_id is not None and later.resolved is not None:
            marks[later.continues_contact_id] = later.resolved  # the last mark wins
    otherwise = {p.contact_id for p in promises if p.state == RESOLVED_STATE and p.contact_id is not None}
    folded = {}
    for contact in contacts:
        if contact.continues_contact_id is not None:
            continue
        if contact.contact_id in otherwise:
            contact = replace(contact, resolved=False)
        elif contact.contact_id in marks:
            contact = replace(contact, resolved=marks[contact.contact_id])
        folded[contact.contact_id] = contact
    return folded


def _first_contact_resolution(
    contact: ContactFact, contacts: Iterable[ContactFact], now: datetime, window: timedelta
) -> bool | None:
    """True/False as defined in the module docstring; None when it does not count (yet)."""
    if contact.caller_id is None or contact.outcome not in HANDLED_OUTCOMES:
        return None
    if contact.resolved is False:
        return False
    window_end = contact.started_at + window
    for later in contacts:
        if (
            later.caller_id == contact.caller_id
            and later.contact_id != contact.contact_id
            and contact.started_at < later.started_at <= min(window_end, now)
            and (contact.intent is None or later.intent == contact.intent)
        ):
            return False
    if now < window_end and contact.resolved is not True:
        return None
    return True


def _is_repeat(contact: ContactFact, contacts: Iterable[ContactFact], window: timedelta) -> bool | None:
    if contact.caller_id is None:
        return None
    return any(
        earlier.caller_id == contact.caller_id
        and earlier.contact_id != contact.contact_id
        and contact.started_at - window <= earlier.started_at < contact.started_at
        and makes_repeat(earlier.intent, earlier.resolved, contact.intent)
        for earlier in contacts
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


CSV_COLUMNS = [f.name for f in fields(QueueNumbers)]


def numbers_csv(rows: Sequence[QueueNumbers], start: datetime, end: datetime) -> str:
    """The numbers as CSV: one line per queue and the total, rates as fractions with 4 decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period_start", "period_end", *CSV_COLUMNS])
    for row in rows:
        values = [getattr(row, name) for name in CSV_COLUMNS]
        writer.writerow(
            [
                start.isoformat(),
                end.isoformat(),
                *("" if v is None else f"{v:.4f}" if isinstance(v, float) else v for v in values),
            ]
        )
    return out.getvalue()


# --- periods ------------------------------------------------------------------------------------

MAX_PERIOD_DAYS = 92


class InvalidPeriod(ValueError):
    """The period is empty, reversed or longer than MAX_PERIOD_DAYS; `field` names the bad end."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def local_days(first: date, last: date, zone: str) -> list[tuple[datetime, datetime]]:
    """Each local day from `first` to `last` (inclusive) as [midnight, next midnight) in UTC."""
    if last < first:
        raise InvalidPeriod("to", "must not be before the start")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidPeriod("to", f"at most {MAX_PERIOD_DAYS} days")
    tz = ZoneInfo(zone)
    days = []
    day = first
    while day <= last:
        start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        days.append((start, end))
        day += timedelta(days=1)
    return days


# --- waits by hour ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitFact:
    enqueued_at: datetime
    left_at: datetime


@dataclass(frozen=True)
class HourWaits:
    hour: int  # local hour of the day the callers joined the queue, 0-23
    callers: int
    average_seconds: float | None
    longest_seconds: float | None


def waits_by_hour(waits: Iterable[WaitFact], zone: str, hours: range = range(24)) -> list[HourWaits]:
    """Average and longest wait per local hour of joining the queue, for each hour in `hours`."""
    tz = ZoneInfo(zone)
    seconds: dict[int, list[float]] = {hour: [] for hour in hours}
    for wait in waits:
        hour = wait.enqueued_at.astimezone(tz).hour
        if hour in seconds:
            seconds[hour].append(max(0.0, (wait.left_at - wait.enqueued_at).total_seconds()))
    return [
        HourWaits(hour, len(values), _mean(values), max(values) if values else None) for hour, values in seconds.items()
    ]
