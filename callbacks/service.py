"""Callback slots and promises in the database: offer, book atomically, move, cancel, keep by SMS.

Functions take the caller's `Session` and work inside its transaction (each booking in a savepoint
of its own). A slot has places 0 … capacity − 1 and a promise holds one by its number; a unique
index on (slot, place) lets the database, not a read, decide who gets the last place. On
PostgreSQL a booking holds its candidate slots' capacity lock shared (an advisory lock that a
capacity change takes exclusively), so no capacity changes under it, and claims a free place with
a transaction-scoped advisory try-lock: bookings of one slot never wait for each other, and a place
another booking is taking is skipped, not waited for. On SQLite every transaction already holds
the write lock (BEGIN IMMEDIATE). Giving a place back is `place = None`.
One open promise per number is a partial unique index; booking again moves the open promise.

What must happen after commit (dial jobs, SMS) goes on the transaction's after-commit list
(terugbel/unit_of_work.py); the caller's `unit_of_work(runtime)` runs it once the changes are in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    bindparam,
    case,
    column,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from callbacks.capacity import ShiftSpan, derived_capacity, effective_capacity
from callbacks.coverage import known_until, record_complete
from callbacks.errors import (
    CallbackError,
    NoSlotAvailable,
    PromiseBusy,
    PromiseNotFound,
    SlotFull,
    UnusableNumber,
)
from callbacks.models import IS_OPEN_PROMISE, CallbackPromise, CallbackSlot, PromiseState
from callbacks.new_promise import write_new_promise
from callbacks.numbers import check_number
from callbacks.promise import InvalidPromiseTransition, start_promise, transition
from callbacks.scheduling import schedule_after_commit, unschedule_after_commit
from callbacks.slots import (
    SlotOffer,
    SlotState,
    choose_offers,
    closed_days,
    earliest_start,
    place_dial_time,
    slot_windows,
)
from callbacks.sms_replies import ReplyKind, parse_reply
from callbacks.timeparse import parse_requested_time
from routing.config import STAMP_TOKEN, QueueConfig, center_config, center_config_at, held_config, latest_config
from routing.models import Agent, Caller, Contact, ContactOutcome, Queue, Shift
from routing.wait import HANDLE_SAMPLE, average_handle_seconds
from telephony.models import SmsDirection, SmsMessage
from telephony.outbox import outbound_sms, queue_sms, send_after_commit
from terugbel.db import database_key, plain_rows
from terugbel.i18n import format_window, normalise_language, t
from terugbel.logs import get_logger
from terugbel.phone import (
    can_text,
    display_number,
    mask,
    region_of,
    try_e164,
)
from terugbel.unit_of_work import after_commit, unit_of_work

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

__all__ = [
    "CallbackError",
    "MovedPromise",
    "NoSlotAvailable",
    "PromiseNotFound",
    "SlotFull",
    "SlotOffer",
    "UnusableNumber",
    "book_callback",
    "cancel_promise",
    "check_number",
    "close_promise_resolved_by_contact",
    "due_reminders",
    "ensure_slots",
    "handle_sms_reply",
    "move_promise",
    "offer_slots",
    "open_promise_for",
    "recompute_capacity",
    "recompute_for_agent",
    "send_due_reminders",
]

log = get_logger(__name__)

# How far ahead offers look: a long weekend plus a holiday still finds the next opening.
FIRST_HORIZON = timedelta(days=1)
OFFER_HORIZON = timedelta(days=8)
WIDE_HORIZON = timedelta(days=21)
REMINDER_BEFORE = timedelta(minutes=30)
REMINDER_MIN_AHEAD = timedelta(hours=2)
BOOKING_CANDIDATES = 8  # slots a booking tries, best first, before it looks again
_RETRIES = 5
_DEADLOCK = "40P01"  # PostgreSQL's deadlock_detected

_Done = TypeVar("_Done")


@dataclass(frozen=True)
class MovedPromise:
    """A promise we moved because capacity dropped: the old id, the new one (None if none fitted)."""

    old_id: int
    new_id: int | None


# --- slots and capacity --------------------------------------------------------------------------


def _queue(session: Session, queue_id: int) -> Queue:
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise CallbackError(f"queue {queue_id} does not exist")
    return queue


def _slot_rules(session: Session, queue_id: int) -> tuple[QueueConfig, str | None]:
    """The queue's zone, slot length, lead time, hours and closed days, and the stamp token they
    were kept under: from the configuration kept per process, so offers read none of them."""
    config = center_config(session)
    queue = config.queues_by_id.get(queue_id)
    if queue is None:
        raise CallbackError(f"queue {queue_id} does not exist")
    return queue, config.token


def _shifts(session: Session, queue: Queue, start: datetime, end: datetime) -> list[ShiftSpan]:
    rows = session.execute(
        select(Shift.agent_id, Shift.starts_at, Shift.ends_at, Agent.skills)
        .join(Agent, Agent.id == Shift.agent_id)
        .where(Agent.active.is_(True), Shift.starts_at < end, Shift.ends_at > start)
    )
    return [
        ShiftSpan(agent_id, starts_at, ends_at)
        for agent_id, starts_at, ends_at, skills in rows
        if queue.skill in (skills or [])
    ]


def handle_seconds(session: Session, queue: Queue) -> int:
    """Return the queue's average handle time: measured over its latest agent contacts, else the default."""
    rows = session.execute(
        select(Contact.routed_at, Contact.started_at, Contact.ended_at)
        .where(
            Contact.queue_id == queue.id,
            Contact.outcome == ContactOutcome.AGENT.value,
            Contact.ended_at.is_not(None),
        )
        .order_by(Contact.ended_at.desc())
        .limit(HANDLE_SAMPLE)
    ).all()
    durations = [(ended - (routed or started)).total_seconds() for routed, started, ended in rows]
    # A floor of a minute: a run of dropped calls must not promise dozens of callbacks a slot.
    return max(60, round(average_handle_seconds(durations, queue.default_handle_seconds)))


def _derived(
    queue: Queue, shifts: Sequence[ShiftSpan], start: datetime, end: datetime, handle: int | None = None
) -> int:
    return derived_capacity(
        start, end, shifts, share=queue.callback_share, handle_seconds=handle or queue.default_handle_seconds
    )


def _slots_between(session: Session, queue_id: int, start: datetime, end: datetime) -> list[CallbackSlot]:
    query = (
        select(CallbackSlot)
        .where(CallbackSlot.queue_id == queue_id, CallbackSlot.starts_at >= start, CallbackSlot.starts_at < end)
        .order_by(CallbackSlot.starts_at)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def ensure_slots(
    session: Session, queue_id: int, start: datetime, end: datetime, now: datetime, *, refresh: bool = False
) -> list[CallbackSlot]:
    """Materialise the queue's slots starting in [start, end) with capacity from staffing; return them.

    New slots get their derived capacity. With `refresh`, existing slots follow staffing too, where
    that keeps every booked promise (lowering below `booked` is `recompute_capacity`'s job, which
    moves the promises that no longer fit). Offers do not refresh: that would cost every booking a
    pass over the week's shifts, and shift changes call `recompute_capacity` / `recompute_for_agent`.
    """
    rules, _token = _slot_rules(session, queue_id)
    _materialise(session, rules, start, end, refresh=refresh)
    return _slots_between(session, queue_id, start, end)


def _covered(done: Iterable[tuple[int, datetime, datetime]], queue_id: int, start: datetime, end: datetime) -> bool:
    """Return whether the ranges materialised so far together cover [start, end)."""
    reach = start
    for q, lo, hi in sorted(done):
        if q == queue_id and lo <= reach < hi:
            reach = hi
    return reach >= end


def _claim_range(session: Session, queue_id: int, start: datetime, end: datetime, *, refresh: bool) -> bool:
    """Return False when [start, end) of the queue was already materialised in this transaction."""
    # Remember per (innermost) transaction: a rolled-back savepoint takes its inserts with it.
    transaction = session.get_nested_transaction() or session.get_transaction()
    memo = session.info.get("callbacks.materialised")
    if memo is None or memo[0] is not transaction:
        memo = session.info["callbacks.materialised"] = (transaction, [])
    done: list[tuple[int, datetime, datetime]] = memo[1]
    if not refresh and _covered(done, queue_id, start, end):
        return False  # already done in this transaction (a booking retries its offer)
    done.append((queue_id, start, end))
    return True


def _windows(rules: QueueConfig, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(rules.timezone)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    closed = closed_days(rules.hours.holiday_country, rules.closed_days, first, last)
    return slot_windows(rules.hours.periods, closed, rules.timezone, rules.slot_minutes, start, end)


# Built once: these run several times in every offer and booking, and SQLAlchemy's compiled cache
# then finds them without rebuilding and re-keying the expression each time.
_IN_RANGE = (
    CallbackSlot.queue_id == bindparam("queue_id"),
    CallbackSlot.starts_at >= bindparam("start", type_=CallbackSlot.starts_at.type),
    CallbackSlot.starts_at < bindparam("end", type_=CallbackSlot.starts_at.type),
)
# `capacity > 0` first: the count of places held is a subquery, worth running only where it matters.
_HAS_ROOM = (
    CallbackSlot.closed.is_(False),
    CallbackSlot.capacity > literal_column("0"),
    CallbackSlot.booked < CallbackSlot.capacity,
)
_SLOT_STATE_COLUMNS = (
    CallbackSlot.id,
    CallbackSlot.starts_at,
    CallbackSlot.ends_at,
    CallbackSlot.capacity,
    CallbackSlot.booked,
    CallbackSlot.closed,
)
_SLOTS_WITH_ROOM = select(*_SLOT_STATE_COLUMNS).where(*_IN_RANGE, *_HAS_ROOM).order_by(CallbackSlot.starts_at)
_FIRST_WITH_ROOM = _SLOTS_WITH_ROOM.limit(bindparam("limit"))
# The configuration stamp token with them: one row with no slot when none has room.
_STAMP = select(STAMP_TOKEN.label("stamp")).subquery("stamp")
_ROOM = _FIRST_WITH_ROOM.lateral("room")
_STAMP_AND_FIRST_WITH_ROOM = select(_STAMP.c.stamp, *_ROOM.c).select_from(_STAMP.outerjoin(_ROOM, true()))
# Every slot's start (to see which are missing) and, for those with room, what an offer needs:
# one read instead of two, and the full slots cost only their start.
_SLOT_STARTS_AND_ROOM = (
    select(
        CallbackSlot.starts_at,
        case((and_(*_HAS_ROOM), CallbackSlot.id)),
        case((and_(*_HAS_ROOM), CallbackSlot.ends_at)),
        CallbackSlot.capacity,
        CallbackSlot.booked,
        CallbackSlot.closed,
    )
    .where(*_IN_RANGE)
    .order_by(CallbackSlot.starts_at)
)
_SLOT_STARTS = select(CallbackSlot.starts_at).where(*_IN_RANGE)
_SLOT_CAPACITIES = select(
    CallbackSlot.starts_at, CallbackSlot.id, CallbackSlot.capacity, CallbackSlot.capacity_override
).where(*_IN_RANGE)
# The transaction that inserted slots (session.info): until it commits, its reads prove nothing.
_SLOTS_WRITTEN = "callbacks.slots_written"


def _materialise(session: Session, rules: QueueConfig, start: datetime, end: datetime, *, refresh: bool) -> None:
    """Insert the missing slots of [start, end); with `refresh` let existing ones follow staffing."""
    if not _claim_range(session, rules.id, start, end, refresh=refresh):
        return
    windows = _windows(rules, start, end)
    if not windows:
        return
    params = {"queue_id": rules.id, "start": start, "end": end}
    existing: dict[datetime, tuple[int, int, int | None]] = {}
    if refresh:
        rows = session.execute(_SLOT_CAPACITIES, params)
        existing = {starts_at: (slot_id, capacity, override) for starts_at, slot_id, capacity, override in rows}
    else:
        existing = dict.fromkeys(session.scalars(_SLOT_STARTS, params), (0, 0, 0))
    _add_missing(session, rules.id, windows, existing, refresh=refresh)


def _complete_with_room(
    session: Session, rules: QueueConfig, token: str | None, start: datetime, end: datetime
) -> list[SlotState]:
    """Return the slots with room in [start, end), first materialising what may be missing.

    The stretch this process already knows to be complete (callbacks/coverage.py) is only read
    for its slots with room; the rest is materialised.
    """
    reach = known_until(database_key(session), token, rules.id, start)
    if reach is None:
        return _materialise_with_room(session, rules, token, start, end)
    if reach >= end:
        return _slots_with_room(session, rules.id, start, end)
    return _slots_with_room(session, rules.id, start, reach) + _materialise_with_room(session, rules, token, reach, end)


def _materialise_with_room(
    session: Session, rules: QueueConfig, token: str | None, start: datetime, end: datetime
) -> list[SlotState]:
    """Materialise [start, end) like `_materialise` and return its slots with room, by start.

    When no slot is missing (nearly always) that is one read of the range instead of two, and the
    range is remembered as complete.
    """
    if not _claim_range(session, rules.id, start, end, refresh=False):
        return _slots_with_room(session, rules.id, start, end)
    windows = _windows(rules, start, end)
    if not windows:
        _record_complete(session, token, rules.id, start, end)
        return _slots_with_room(session, rules.id, start, end)
    existing: dict[datetime, tuple[int, int, int | None]] = {}
    with_room: list[SlotState] = []
    placeholder = (0, 0, 0)
    for starts_at, slot_id, ends_at, capacity, booked, closed in plain_rows(
        session, _SLOT_STARTS_AND_ROOM, {"queue_id": rules.id, "start": start, "end": end}
    ):
        existing[starts_at] = placeholder
        if slot_id is not None:
            with_room.append(SlotState(slot_id, starts_at, ends_at, capacity, booked, closed))
    if _add_missing(session, rules.id, windows, existing, refresh=False):
        return _slots_with_room(session, rules.id, start, end)
    _record_complete(session, token, rules.id, start, end)
    return with_room


def _record_complete(session: Session, token: str | None, queue_id: int, start: datetime, end: datetime) -> None:
    # Rows this transaction inserted may still roll back: only other transactions' rows, which
    # are committed when this one reads them, prove that a window has its slot.
    if session.info.get(_SLOTS_WRITTEN) is not session.get_transaction():
        record_complete(database_key(session), token, queue_id, start, end)


def _add_missing(
    session: Session,
    queue_id: int,
    windows: Sequence[tuple[datetime, datetime]],
    existing: dict[datetime, tuple[int, int, int | None]],
    *,
    refresh: bool,
) -> bool:
    """Insert the windows not in `existing`; with `refresh` let existing ones follow staffing.

    Return whether any slot was written.
    """
    todo = windows if refresh else [w for w in windows if w[0] not in existing]
    if not todo:
        return False
    queue = _queue(session, queue_id)
    shifts = _shifts(session, queue, todo[0][0], todo[-1][1])
    handle = handle_seconds(session, queue)
    missing = []
    for window_start, window_end in todo:
        derived = _derived(queue, shifts, window_start, window_end, handle)
        known = existing.get(window_start)
        if known is None:
            missing.append(
                {
                    "queue_id": queue.id,
                    "starts_at": window_start,
                    "ends_at": window_end,
                    "capacity": derived,
                    "closed": False,
                }
            )
        elif known[2] is None and known[1] != derived:
            # Lock first: the check below must see every place taken until now, in a statement
            # of its own (a subquery of the update would read from before the wait).
            _lock_slot_for_change(session, known[0])
            changed = session.execute(
                update(CallbackSlot)
                .where(
                    CallbackSlot.id == known[0],
                    CallbackSlot.capacity_override.is_(None),
                    ~_place_at_or_above(derived),
                )
                .values(capacity=derived)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed:
                holders = session.scalars(_HOLDERS.with_for_update(), {"slot_id": known[0]})
                _retime_waiting(session, window_start, window_end, derived, list(holders))
    if missing:
        session.info[_SLOTS_WRITTEN] = session.get_transaction()
        # Two processes may materialise the same slot at once: the unique (queue, start) decides.
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(CallbackSlot).on_conflict_do_nothing(), missing)
    return True


def _slots_with_room(session: Session, queue_id: int, start: datetime, end: datetime) -> list[SlotState]:
    rows = plain_rows(session, _SLOTS_WITH_ROOM, {"queue_id": queue_id, "start": start, "end": end})
    return [SlotState(*row) for row in rows]


def _first_with_room(session: Session, queue_id: int, start: datetime, end: datetime, limit: int) -> list[SlotState]:
    params = {"queue_id": queue_id, "start": start, "end": end, "limit": limit}
    return [SlotState(*row) for row in plain_rows(session, _FIRST_WITH_ROOM, params)]


def offer_slots(
    session: Session,
    *,
    queue_id: int,
    now: datetime,
    zone: str,
    near: datetime | None = None,
    count: int = 3,
    exclude: Iterable[int] = (),
    materialise: bool = True,
) -> list[SlotOffer]:
    """Return up to `count` windows with room: the earliest after the lead time (or the nearest to
    `near`) and the ones after it; outside hours, the first slots of the next opening."""
    skip = list(exclude)
    if near is None:
        # The first `count` slots with room (and the excluded ones, which may be among them) of the
        # stretch known complete decide every horizon: one short read instead of one per horizon.
        rules, token, start, complete, first = _earliest_with_room(
            session, queue_id, now, count + len(skip), materialise=materialise
        )
    else:
        rules, token = _slot_rules(session, queue_id)
        start = earliest_start(now, rules.callback_lead_minutes)
        complete, first = start, []  # near a wished time every horizon is read whole
    anchor = max(start, near) if near is not None else start

    def read(lo: datetime, hi: datetime) -> list[SlotState]:
        slots = [slot for slot in first if lo <= slot.starts_at < hi]
        if hi > complete:
            lo = max(lo, complete)
            slots += (
                _complete_with_room(session, rules, token, lo, hi)
                if materialise
                else _slots_with_room(session, queue_id, lo, hi)
            )
        return slots

    # Each wider horizon reads only the days the narrower one did not: the same slots, once.
    slots: list[SlotState] = []
    offers: list[SlotOffer] = []
    covered = start
    for horizon in (FIRST_HORIZON, OFFER_HORIZON, WIDE_HORIZON):
        slots.extend(read(covered, anchor + horizon))
        covered = anchor + horizon
        offers = choose_offers(
            slots,
            now=now,
            lead_minutes=rules.callback_lead_minutes,
            zone=zone,
            near=near,
            count=count,
            exclude=skip,
        )
        if len(offers) >= count or (offers and horizon >= OFFER_HORIZON):
            break  # beyond a week only when nothing at all is free this week
    return offers


def _earliest_with_room(
    session: Session, queue_id: int, now: datetime, limit: int, *, materialise: bool
) -> tuple[QueueConfig, str | None, datetime, datetime, list[SlotState]]:
    """The queue's rules and stamp token, the earliest start an offer may have, how far from it no
    slot can be missing, and the first `limit` slots with room in that stretch.

    On PostgreSQL a transaction that has not read the configuration yet reads the stamp token in
    the same statement as the slots, under the rules of the configuration this process took last:
    one round trip fewer for nearly every offer and booking. If the token is not that guess's, the
    configuration it names is taken and the slots are read again under its rules.
    """
    guess = None
    if held_config(session) is None and session.get_bind().dialect.name == "postgresql":
        guess = latest_config(session)
    if guess is not None and queue_id in guess.queues_by_id:
        rules = guess.queues_by_id[queue_id]
        start, complete = _known_stretch(session, rules, guess.token, now, materialise=materialise)
        if complete > start:
            params = {"queue_id": queue_id, "start": start, "end": complete, "limit": limit}
            rows = plain_rows(session, _STAMP_AND_FIRST_WITH_ROOM, params)
            token = rows[0].stamp  # always one row: the stamp is joined to the slots, not filtered by them
            center_config_at(session, token)  # held by the transaction from here on
            if token is not None and token == guess.token:
                return rules, token, start, complete, [SlotState(*row[1:]) for row in rows if row.id is not None]
    rules, token = _slot_rules(session, queue_id)
    start, complete = _known_stretch(session, rules, token, now, materialise=materialise)
    first = _first_with_room(session, queue_id, start, complete, limit) if complete > start else []
    return rules, token, start, complete, first


def _known_stretch(
    session: Session, rules: QueueConfig, token: str | None, now: datetime, *, materialise: bool
) -> tuple[datetime, datetime]:
    """The earliest start an offer may have, and up to when from there no slot can be missing
    (without `materialise` the caller takes the slots as they are, for the widest horizon)."""
    start = earliest_start(now, rules.callback_lead_minutes)
    widest = start + WIDE_HORIZON
    if not materialise:
        return start, widest
    return start, min(known_until(database_key(session), token, rules.id, start) or start, widest)


def recompute_capacity(
    session: Session, queue_id: int, start: datetime, end: datetime, now: datetime
) -> list[MovedPromise]:
    """Set each slot's capacity from staffing again; move the promises that no longer fit.

    In a slot over capacity the latest-booked promises move first, to the nearest later slot with
    room (an earlier one only when nothing later is free), and each caller gets an SMS with the new
    window at once (story 5). A promise that fits nowhere is missed, and the caller is told.
    """
    queue = _queue(session, queue_id)
    slots = ensure_slots(session, queue_id, max(start, now), end, now)
    if not slots:
        return []
    shifts = _shifts(session, queue, slots[0].starts_at, slots[-1].ends_at)
    handle = handle_seconds(session, queue)
    moved: list[MovedPromise] = []
    for slot in slots:
        derived = _derived(queue, shifts, slot.starts_at, slot.ends_at, handle)
        capacity = effective_capacity(derived, slot.capacity_override)
        # The exclusive lock waits for the bookings in flight (they hold a share lock); the
        # statements after it see their places.
        _lock_slot_for_change(session, slot.id)
        slot.capacity = capacity
        session.flush()
        if slot.starts_at <= now:
            continue
        holders = list(session.scalars(_HOLDERS.with_for_update(), {"slot_id": slot.id}))
        overflow = len(holders) - capacity
        victims = [p for p in holders if p.state == PromiseState.BOOKED.value][: max(overflow, 0)]
        for promise in victims:
            moved.append(_move_by_us(session, promise, now))
        _renumber_below(session, slot, [p for p in holders if p not in victims], capacity)
    return moved


def _renumber_below(session: Session, slot: CallbackSlot, holders: Sequence[CallbackPromise], capacity: int) -> None:
    """Give the holders numbered at or above `capacity` the free places below it (as many as there are).

    Bookings only take places below capacity − (holders at or above it), so a slot whose capacity
    dropped is never overbooked; renumbering gives the room back to new bookings. The promises not
    yet dialled then get their place's moment under the new capacity.
    """
    free = sorted(set(range(capacity)) - {p.place for p in holders})
    for promise in sorted((p for p in holders if p.place is not None and p.place >= capacity), key=_place_of):
        if not free:
            break
        promise.place = free.pop(0)
    _retime_waiting(session, slot.starts_at, slot.ends_at, capacity, holders)
    session.flush()


def _retime_waiting(
    session: Session, starts_at: datetime, ends_at: datetime, capacity: int, holders: Iterable[CallbackPromise]
) -> None:
    """Give each holder not yet dialled its place's moment under `capacity` (and a new dial job).

    A place's moment depends on the capacity: after the capacity changed, the promises booked before
    would otherwise share moments with those booked after, and the slot's calls would bunch up.
    """
    for promise in holders:
        if promise.place is None or promise.state != PromiseState.BOOKED.value or promise.attempts:
            continue
        moment = place_dial_time(starts_at, ends_at, capacity, promise.place)
        if promise.planned_dial_at != moment:
            promise.planned_dial_at = moment
            schedule_after_commit(after_commit(session), promise.id, 1, moment)


def _place_of(promise: CallbackPromise) -> int:
    return promise.place or 0


def recompute_for_agent(
    session: Session, agent_id: int, start: datetime, end: datetime, now: datetime
) -> list[MovedPromise]:
    """Recompute the capacity of every queue the agent serves (after their shifts changed)."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        return []
    queues = session.scalars(select(Queue).where(Queue.skill.in_(agent.skills or [])))
    moved: list[MovedPromise] = []
    for queue in list(queues):
        moved.extend(recompute_capacity(session, queue.id, start, end, now))
    return moved


def _move_by_us(session: Session, promise: CallbackPromise, now: datetime) -> MovedPromise:
    old_window = format_window(promise.window_start, promise.window_end, promise.timezone, promise.language, now)
    offers = offer_slots(
        session,
        queue_id=promise.queue_id,
        now=now,
        zone=promise.timezone,
        near=promise.window_start,
        count=50,
        exclude=[promise.slot_id] if promise.slot_id else [],
    )
    later = [o for o in offers if o.window_start >= promise.window_start]
    for offer in later + [o for o in offers if o not in later]:
        try:
            new = _rebook(session, promise, offer.slot_id, now, cause="capacity dropped", by_us=True)
        except SlotFull:
            continue
        body = t(
            promise.language,
            "cb_sms_moved_by_us",
            old_window=old_window,
            window=_window_text(new, now),
            number=display_number(new.number),
        )
        _queue_sms(session, new, body, "moved_by_us", now)
        log.info("promise moved by us", promise_id=promise.id, new_promise_id=new.id, number=mask(promise.number))
        return MovedPromise(promise.id, new.id)
    promise.place = None
    transition(promise, PromiseState.MISSED, now, "capacity dropped: no slot with room")
    promise.reason = "capacity dropped and no slot with room in the coming days"
    unschedule_after_commit(after_commit(session), promise.id)
    _queue_sms(session, promise, t(promise.language, "cb_sms_cannot_keep", old_window=old_window), "cannot_keep", now)
    return MovedPromise(promise.id, None)


# --- booking ---------------------------------------------------------------------------------------


def open_promise_for(session: Session, number: str) -> CallbackPromise | None:
    """Return the open promise of this number (E.164), if there is one."""
    e164 = try_e164(number) or number
    return session.scalars(_OPEN_PROMISE, {"number": e164}).first()


def book_callback(
    session: Session,
    *,
    queue_id: int,
    number: str,
    language: str,
    timezone: str,
    now: datetime,
    slot_id: int | None = None,
    near: datetime | None = None,
    caller_id: int | None = None,
    intent_id: int | None = None,
    problem: str | None = None,
    contact_id: int | None = None,
    preferred_agent_id: int | None = None,
    source: str = "ivr",
    region: str = "NL",
    needs_sms: bool = True,
    notify: bool = True,
) -> CallbackPromise:
    """Book a callback in `slot_id` (or the best slot for `near`, or the earliest), atomically.

    An open promise of the same number is moved to the new one in the same transaction. With
    `notify` the confirmation SMS is queued. Raises UnusableNumber, SlotFull (a chosen slot has no
    place), NoSlotAvailable, PromiseBusy.
    """
    e164 = check_number(number, region, needs_sms=needs_sms)
    details = {
        "queue_id": queue_id,
        "number": e164,
        "language": normalise_language(language),
        "timezone": timezone,
        "caller_id": caller_id,
        "intent_id": intent_id,
        "problem": problem,
        "contact_id": contact_id,
        "preferred_agent_id": preferred_agent_id,
        "source": source,
    }
    first_offers = None
    if slot_id is None:
        # Materialise the slots outside the savepoint below, so that a refused booking keeps them.
        first_offers = offer_slots(
            session, queue_id=queue_id, now=now, zone=timezone, near=near, count=BOOKING_CANDIDATES
        )
        if not first_offers:
            raise NoSlotAvailable("no slot with room in the coming days")
        # In time order, as a capacity change takes them (exclusively): two transactions that
        # take the same locks in one order never wait for each other in a circle.
        to_lock = [offer.slot_id for offer in sorted(first_offers, key=lambda offer: offer.window_start)]
    else:
        to_lock = [slot_id]
    shared: list[int] = []
    if session.get_bind().dialect.name == "postgresql":
        # Bookings of one number take turns (until commit): the later one finds the earlier one's
        # promise and moves it, instead of losing a race to the one-open-promise index and starting
        # over. The capacity locks of the slots it will try come in the same round trip, held
        # until commit.
        shared = to_lock
        plain_rows(session, _NUMBER_LOCK, {"number": e164, "slot_ids": shared}, flush=False)

    def book() -> CallbackPromise:
        existing = _lock_open_promise(session, e164)
        if existing is not None and existing.state != PromiseState.BOOKED.value:
            raise PromiseBusy(f"promise {existing.id} is {existing.state}")
        return _take_place_and_create(
            session,
            details,
            now=now,
            slot_id=slot_id,
            near=near,
            replaces=existing,
            by_us=False,
            first_offers=first_offers,
            confirm=notify,
            shared=shared,
        )

    return _in_savepoint_with_retry(session, book)


def _in_savepoint_with_retry(session: Session, work: Callable[[], _Done]) -> _Done:
    """Run `work` in a savepoint; try again after a deadlock or a same-number race lost to a commit.

    PostgreSQL may pick this transaction to break a deadlock between two moves in opposite
    directions (each holds one slot row and wants the other's); the savepoint keeps the rest of the
    caller's transaction, and the retry sees the other's committed result.
    """
    for attempt in range(1, _RETRIES + 1):
        try:
            with session.begin_nested():
                return work()
        except IntegrityError:
            if attempt == _RETRIES:
                raise
        except OperationalError as exc:
            if attempt == _RETRIES or getattr(exc.orig, "sqlstate", None) != _DEADLOCK:
                raise
            log.info("booking retried after a deadlock", attempt=attempt)
    raise AssertionError("unreachable")


def move_promise(
    session: Session,
    promise_id: int,
    now: datetime,
    *,
    slot_id: int | None = None,
    near: datetime | None = None,
    cause: str = "moved by caller",
    notify: bool = True,
) -> CallbackPromise:
    """Move an open promise to `slot_id` (or the slot nearest `near`, or the earliest); return the new one."""
    promise = _lock_promise(session, promise_id)
    if promise.state in (PromiseState.DIALLING.value, PromiseState.CONNECTED.value):
        raise PromiseBusy(f"promise {promise.id} is {promise.state}")
    if promise.state != PromiseState.BOOKED.value:
        raise InvalidPromiseTransition(promise.id, promise.state, PromiseState.MOVED.value)
    if slot_id is None:
        offer_slots(
            session, queue_id=promise.queue_id, now=now, zone=promise.timezone, near=near, count=BOOKING_CANDIDATES
        )
    return _in_savepoint_with_retry(
        session,
        lambda: _take_place_and_create(
            session,
            _details_of(promise),
            now=now,
            slot_id=slot_id,
            near=near,
            replaces=promise,
            by_us=False,
            cause=cause,
            exclude=[] if slot_id else [promise.slot_id] if promise.slot_id else [],
            confirm=notify,
        ),
    )


def cancel_promise(
    session: Session, promise_id: int, now: datetime, cause: str, *, notify: bool = False
) -> CallbackPromise:
    """Cancel an open promise and free its place; with `notify`, text the caller that it is cancelled."""
    promise = _lock_promise(session, promise_id)
    transition(promise, PromiseState.CANCELLED, now, cause)
    promise.reason = cause[:200]
    promise.sms_offer = None
    promise.place = None
    unschedule_after_commit(after_commit(session), promise.id)
    if notify:
        body = t(promise.language, "cb_sms_cancelled", window=_window_text(promise, now))
        _queue_sms(session, promise, body, "cancelled", now)
    return promise


def close_promise_resolved_by_contact(
    session: Session, number: str, intent_id: int | None, now: datetime
) -> CallbackPromise | None:
    """Close the open promise for the same intent when the caller reached an agent another way."""
    if intent_id is None:
        return None  # without a known intent we cannot tell it was the same problem
    promise = open_promise_for(session, number)
    if promise is None or promise.state != PromiseState.BOOKED.value or promise.intent_id != intent_id:
        return None
    window = _window_text(promise, now)
    cancel_promise(session, promise.id, now, "resolved by another contact")
    _queue_sms(session, promise, t(promise.language, "cb_sms_resolved", window=window), "resolved", now)
    return promise


def due_reminders(session: Session, now: datetime) -> list[SmsMessage]:
    """Queue a reminder for promises booked more than 2 h ahead whose window starts within 30 min."""
    promises = session.scalars(
        select(CallbackPromise)
        .where(
            CallbackPromise.state == PromiseState.BOOKED.value,
            CallbackPromise.reminder_sent_at.is_(None),
            CallbackPromise.window_start > now,
            CallbackPromise.window_start <= now + REMINDER_BEFORE,
        )
        .with_for_update(skip_locked=True)
    )
    queued: list[SmsMessage] = []
    for promise in list(promises):
        if promise.window_start - promise.booked_at <= REMINDER_MIN_AHEAD:
            continue
        promise.reminder_sent_at = now
        body = t(
            promise.language,
            "cb_sms_reminder",
            window=_window_text(promise, now),
            number=display_number(promise.number),
        )
        message = _queue_sms(session, promise, body, "reminder", now)
        if message is not None:
            queued.append(message)
    return queued


def _details_of(promise: CallbackPromise) -> dict[str, Any]:
    return {
        "queue_id": promise.queue_id,
        "number": promise.number,
        "language": promise.language,
        "timezone": promise.timezone,
        "caller_id": promise.caller_id,
        "intent_id": promise.intent_id,
        "problem": promise.problem,
        "contact_id": promise.contact_id,
        "preferred_agent_id": promise.preferred_agent_id,
        "source": promise.source,
    }


def _rebook(
    session: Session, promise: CallbackPromise, slot_id: int, now: datetime, *, cause: str, by_us: bool
) -> CallbackPromise:
    return _in_savepoint_with_retry(
        session,
        lambda: _take_place_and_create(
            session,
            _details_of(promise),
            now=now,
            slot_id=slot_id,
            near=None,
            replaces=promise,
            by_us=by_us,
            cause=cause,
        ),
    )


def _take_place_and_create(
    session: Session,
    details: dict[str, Any],
    *,
    now: datetime,
    slot_id: int | None,
    near: datetime | None,
    replaces: CallbackPromise | None,
    by_us: bool,
    cause: str | None = None,
    exclude: Iterable[int] = (),
    first_offers: Sequence[SlotOffer] | None = None,
    confirm: bool = False,
    shared: Iterable[int] = (),
) -> CallbackPromise:
    """Create the promise (and with `confirm` its confirmation SMS) in the first candidate slot
    that gives it a place; raise SlotFull or NoSlotAvailable when none does.

    The place is claimed before anything is written, and nothing else waits on it: another
    booking of the same slot claims another place, or moves on when every free one is being taken.
    """
    if replaces is not None:
        transition(replaces, PromiseState.MOVED, now, cause or ("moved by us" if by_us else "booked again"))
        replaces.reason = (cause or "booked again")[:200]
        replaces.sms_offer = None
        replaces.place = None  # given back now: a move within one slot may take it again
        session.flush()  # the old promise leaves the open-number index before the new one enters it

    rounds = _candidates(
        session, details, now=now, slot_id=slot_id, near=near, exclude=exclude, first_offers=first_offers
    )
    for candidates in rounds:
        written = _write_in_a_free_place(
            session, candidates, details, now=now, by_us=by_us, cause=cause, confirm=confirm, shared=shared
        )
        if written is not None:
            promise, message = written
            break
    else:
        if slot_id is not None:
            raise SlotFull(f"slot {slot_id} has no place")
        raise NoSlotAvailable("no slot with room in the coming days")

    if replaces is not None:
        replaces.moved_to_id = promise.id
        unschedule_after_commit(after_commit(session), replaces.id)
    schedule_after_commit(after_commit(session), promise.id, 1, promise.planned_dial_at)
    if message is not None:
        send_after_commit(session, message.id)
    return promise


def _write_in_a_free_place(
    session: Session,
    candidates: Sequence[int],
    details: dict[str, Any],
    *,
    now: datetime,
    by_us: bool,
    cause: str | None,
    confirm: bool,
    shared: Iterable[int],
) -> tuple[CallbackPromise, SmsMessage | None] | None:
    """Claim the first free place of the candidates and write the promise (and its text) there;
    None when none of them has a place to give."""
    for _ in range(_RETRIES):
        claimed = _claim_place(session, candidates, details["queue_id"], now, shared=shared)
        if claimed is None:
            return None
        promise = CallbackPromise(
            **details,
            slot_id=claimed.slot_id,
            place=claimed.place,
            window_start=claimed.starts_at,
            window_end=claimed.ends_at,
            planned_dial_at=place_dial_time(claimed.starts_at, claimed.ends_at, claimed.capacity, claimed.place),
            booked_at=now,
            moved_by_us=by_us,
        )
        start_promise(promise, now, cause or f"booked via {details['source']}")
        message = None
        if confirm and can_text(promise.number):
            body = confirmation_text(promise, now)
            message = outbound_sms(to=promise.number, body=body, purpose="confirmation", now=now)
            promise.messages.append(message)
        if write_new_promise(session, promise):
            return promise, message
        # The booking that held the place committed it between the claim's snapshot and its
        # try-lock: the claim, made again, sees it taken.
    return None


def _candidates(
    session: Session,
    details: dict[str, Any],
    *,
    now: datetime,
    slot_id: int | None,
    near: datetime | None,
    exclude: Iterable[int],
    first_offers: Sequence[SlotOffer] | None,
) -> Iterator[list[int]]:
    """The slots a booking tries, a list at a time, best first: the chosen one, or the offers, and
    then the next ones after them when others took every place of those meanwhile."""
    if slot_id is not None:
        yield [slot_id]
        return
    tried = list(exclude)
    for round_ in range(3):
        offers = (
            list(first_offers)
            if round_ == 0 and first_offers is not None
            else offer_slots(
                session,
                queue_id=details["queue_id"],
                now=now,
                zone=details["timezone"],
                near=near,
                count=BOOKING_CANDIDATES,
                # Slots tried already had no place to give: their free places (if any) are being
                # taken by bookings in flight, which nearly always commit.
                exclude=tried,
                # The caller materialised the slots before this savepoint; only a last look
                # further ahead (when others took the nearer places meanwhile) adds slots here.
                materialise=round_ == 2,
            )
        )
        if not offers:
            return
        candidates = [offer.slot_id for offer in offers]
        yield candidates
        tried.extend(candidates)


@dataclass(frozen=True)
class _Claimed:
    """A place a booking claimed, and what the promise needs of its slot."""

    slot_id: int
    place: int
    starts_at: datetime
    ends_at: datetime
    capacity: int


# A slot's capacity lock (PostgreSQL; on SQLite every writer holds the database's write lock):
# bookings hold it shared until commit, so the capacity and closing of the slots they book cannot
# change under them and they never wait for each other; a capacity change holds it exclusively,
# so it waits for the bookings in flight and the statements after it see their places. Advisory,
# in the two-int key space under class 7 (the number lock below uses class 6): unlike a row lock
# it writes nothing to the slot's row.
_SHARE_SLOTS_SQL = "SELECT count(pg_advisory_xact_lock_shared(7, id)) FROM unnest(CAST(:slot_ids AS integer[])) AS id"
_SHARE_SLOTS = text(_SHARE_SLOTS_SQL)
_LOCK_SLOT = text("SELECT pg_advisory_xact_lock(7, :slot_id)")
# The candidate slots with the places they hold (SQLite): one row per place held, or one with no place.
_SLOTS_TO_BOOK = (
    select(
        CallbackSlot.id,
        CallbackSlot.starts_at,
        CallbackSlot.ends_at,
        CallbackSlot.capacity,
        CallbackSlot.closed,
        CallbackPromise.place,
    )
    .outerjoin(CallbackPromise, and_(CallbackPromise.slot_id == CallbackSlot.id, CallbackPromise.place.is_not(None)))
    .where(CallbackSlot.id.in_(bindparam("slot_ids", expanding=True)), CallbackSlot.queue_id == bindparam("queue_id"))
)
# The first free place of the candidate slots that no other transaction is taking (PostgreSQL),
# read and claimed in one statement after the slots' capacity locks are held, so it sees the
# capacity and every place taken until then. The free places are those of `free_places` below
# (this statement is its PostgreSQL form), listed in order: the slots as given, then by place.
# Each is claimed by a transaction-scoped advisory try-lock on its key in the single-bigint key
# space (the number lock uses the two-int one), slot id × 2^20 + place; the CTE is materialised
# so the try-locks run on its rows in that order and LIMIT stops at the first place claimed: the
# booking holds locks only on the places it tried (until its transaction ends). A place that
# another booking commits after this statement's snapshot and before the try-lock looks free in the
# CTE: `callback_place_is_free`, asked after the lock with a snapshot of its own, sees it taken.
# The write checks once more (`write_new_promise`), for anything that takes a place without its lock.
_PLACE_KEY = 1 << 20
_CLAIM_FIRST_FREE = text(
    "WITH free AS MATERIALIZED ("
    f"SELECT slot.id * {_PLACE_KEY} + place.number AS key, slot.starts_at, slot.ends_at, slot.capacity "
    "FROM callback_slots AS slot CROSS JOIN LATERAL generate_series(0, "
    # A slot of another queue, closed or begun has no free place. Said here rather than as a
    # condition on the slot, so the planner finds the candidates by their primary key alone.
    "CASE WHEN slot.queue_id = :queue_id AND NOT slot.closed AND slot.starts_at > :now "
    # Places at or above the capacity (left by a capacity that dropped under bookings that could
    # not move) leave as many places free below it.
    "THEN slot.capacity - 1 - (SELECT count(*) FROM callback_promises AS above "
    "WHERE above.slot_id = slot.id AND above.place >= slot.capacity) ELSE -1 END) AS place(number) "
    "WHERE slot.id = ANY(CAST(:slot_ids AS integer[])) AND NOT EXISTS (SELECT 1 FROM callback_promises AS held "
    "WHERE held.slot_id = slot.id AND held.place = place.number) "
    "ORDER BY array_position(CAST(:slot_ids AS integer[]), slot.id), place.number) "
    "SELECT key, starts_at, ends_at, capacity FROM free "
    # In this order (CASE keeps it): the lock first, then whether the place is still free, asked
    # with a fresh snapshot (migration 0002): a booking that held it until now has committed it.
    "WHERE CASE WHEN pg_try_advisory_xact_lock(key) "
    f"THEN callback_place_is_free(CAST(key / {_PLACE_KEY} AS integer), CAST(key % {_PLACE_KEY} AS integer)) "
    "ELSE false END LIMIT 1"
).columns(column("key", BigInteger), CallbackSlot.starts_at, CallbackSlot.ends_at, CallbackSlot.capacity)
# The promises holding a place of the slot, the latest booked first (they move first).
_HOLDERS = (
    select(CallbackPromise)
    .where(CallbackPromise.slot_id == bindparam("slot_id"), CallbackPromise.place.is_not(None))
    .order_by(CallbackPromise.booked_at.desc(), CallbackPromise.id.desc())
)
_LOCK_OPEN_PROMISE = (
    select(CallbackPromise.id).where(CallbackPromise.number == bindparam("number"), IS_OPEN_PROMISE).with_for_update()
)
_OPEN_PROMISE = select(CallbackPromise).where(CallbackPromise.number == bindparam("number"), IS_OPEN_PROMISE)
_NUMBER_LOCK = text(f"SELECT (SELECT pg_advisory_xact_lock(6, hashtext(:number))), ({_SHARE_SLOTS_SQL})")


def _lock_slot_for_change(session: Session, slot_id: int) -> None:
    """Wait for the bookings of the slot in flight and keep new ones out until commit (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        plain_rows(session, _LOCK_SLOT, {"slot_id": slot_id}, flush=False)


def _place_at_or_above(place: int) -> ColumnElement[bool]:
    """Whether some promise holds a place of the slot numbered `place` or higher."""
    return (
        select(CallbackPromise.id)
        .where(CallbackPromise.slot_id == CallbackSlot.id, CallbackPromise.place >= place)
        .correlate(CallbackSlot)
        .exists()
    )


def free_places(capacity: int, held: Iterable[int]) -> list[int]:
    """The places a booking may take, in order: those free below capacity − (places held at or above it).

    Places at or above the capacity are left by a capacity that dropped under bookings that could
    not move; leaving as many free below it keeps the slot from holding more than its capacity.
    `_CLAIM_FIRST_FREE` is the same rule in PostgreSQL's SQL (a test holds them together).
    """
    taken = set(held)
    usable = capacity - sum(1 for place in taken if place >= capacity)
    return [place for place in range(usable) if place not in taken]


def _claim_place(
    session: Session, slot_ids: Sequence[int], queue_id: int, now: datetime, *, shared: Iterable[int] = ()
) -> _Claimed | None:
    """Claim the first free place of the first of `slot_ids` that has one, for this transaction.

    Two bookings never take one place (the unique index), so no slot holds more than its capacity.
    On PostgreSQL it is two statements however many slots: lock their capacity (those not in
    `shared`, whose lock the transaction holds already; none, then), and claim. The free places
    another booking is claiming right now are skipped; that booking will take them, or, if its
    transaction fails, the place is free again for the next caller. On SQLite, where every writer
    holds the database's write lock, it is one read of the places the slots hold.
    """
    candidates = list(dict.fromkeys(slot_ids))
    if session.get_bind().dialect.name == "postgresql":
        locked_already = set(shared)
        to_share = [slot_id for slot_id in candidates if slot_id not in locked_already]
        if to_share:
            plain_rows(session, _SHARE_SLOTS, {"slot_ids": to_share}, flush=False)
        params = {"slot_ids": candidates, "queue_id": queue_id, "now": now}
        claimed = plain_rows(session, _CLAIM_FIRST_FREE, params, flush=False).first()
        if claimed is None:
            return None
        slot_id, place = divmod(claimed.key, _PLACE_KEY)
        return _Claimed(slot_id, place, claimed.starts_at, claimed.ends_at, claimed.capacity)
    slots: dict[int, tuple[datetime, datetime, int]] = {}
    held: dict[int, list[int]] = {}
    for slot_id, starts_at, ends_at, capacity, closed, place in plain_rows(
        session, _SLOTS_TO_BOOK, {"slot_ids": candidates, "queue_id": queue_id}
    ):
        if not closed and starts_at > now:
            slots[slot_id] = (starts_at, ends_at, capacity)
            places = held.setdefault(slot_id, [])
            if place is not None:
                places.append(place)
    for slot_id in candidates:
        if slot_id in slots:
            free = free_places(slots[slot_id][2], held[slot_id])
            if free:
                return _Claimed(slot_id, free[0], *slots[slot_id])
    return None


def _lock_open_promise(session: Session, number: str) -> CallbackPromise | None:
    # Nearly always there is none: a plain read says so without the ORM's entity loading.
    promise_id = plain_rows(session, _LOCK_OPEN_PROMISE, {"number": number}).scalar()
    return None if promise_id is None else session.get(CallbackPromise, promise_id, populate_existing=True)


def _lock_promise(session: Session, promise_id: int) -> CallbackPromise:
    promise = session.scalars(
        select(CallbackPromise)
        .where(CallbackPromise.id == promise_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if promise is None:
        raise PromiseNotFound(f"promise {promise_id} does not exist")
    return promise


# --- SMS -----------------------------------------------------------------------------------------------


def _window_text(promise: CallbackPromise, now: datetime) -> str:
    return format_window(promise.window_start, promise.window_end, promise.timezone, promise.language, now)


def _few_words(problem: str | None, limit: int = 60) -> str | None:
    if not problem or not problem.strip():
        return None
    words = " ".join(problem.split())
    return words if len(words) <= limit else words[: limit - 1].rsplit(" ", 1)[0] + "…"


def confirmation_text(promise: CallbackPromise, now: datetime) -> str:
    """Return the confirmation SMS: window, number to be called, the problem, what replies do."""
    window, number = _window_text(promise, now), display_number(promise.number)
    problem = _few_words(promise.problem)
    if problem is None:
        return t(promise.language, "cb_sms_confirmation_plain", window=window, number=number)
    return t(promise.language, "cb_sms_confirmation", window=window, number=number, problem=problem)


def _queue_sms(session: Session, promise: CallbackPromise, body: str, purpose: str, now: datetime) -> SmsMessage | None:
    if not can_text(promise.number):
        return None  # booked for a landline (needs_sms=False): nothing to send
    return queue_sms(session, to=promise.number, body=body, purpose=purpose, now=now, promise_id=promise.id)


def handle_sms_reply(session: Session, *, from_number: str, body: str, message_sid: str, now: datetime) -> str:
    """Act on a caller's SMS reply and return the text to answer with (same answer for a repeated sid)."""
    seen = session.scalars(select(SmsMessage).where(SmsMessage.sid == message_sid)).first()
    if seen is not None:
        earlier = session.scalars(select(SmsMessage).where(SmsMessage.purpose == f"reply:{seen.id}")).first()
        return (
            earlier.body if earlier is not None else t(_sender_language(session, seen.number), "cb_sms_unknown_sender")
        )

    number = try_e164(from_number) or (from_number or "")[:20]
    promise = open_promise_for(session, number) if number else None
    inbound = SmsMessage(
        sid=message_sid,
        direction=SmsDirection.INBOUND.value,
        number=number,
        body=(body or "")[:1600],
        status="received",
        purpose="reply",
        promise_id=promise.id if promise else None,
        created_at=now,
    )
    session.add(inbound)
    session.flush()
    answer, about = _answer(session, promise, number, body or "", now)
    session.add(
        SmsMessage(
            direction=SmsDirection.OUTBOUND.value,
            number=number,
            body=answer,
            status="replied",  # sent as the webhook's response, not through the outbox
            purpose=f"reply:{inbound.id}",
            promise_id=about,
            created_at=now,
        )
    )
    session.flush()
    return answer


def _sender_language(session: Session, number: str) -> str:
    caller = session.scalars(select(Caller).where(Caller.number == number)).first()
    if caller is not None and caller.language:
        return caller.language
    region = region_of(number)
    return "nl" if region is None or region in {"NL", "BE", "SR"} else "en"


def _answer(
    session: Session, promise: CallbackPromise | None, number: str, body: str, now: datetime
) -> tuple[str, int | None]:
    """Return the reply text and the id of the promise it is about."""
    if promise is None:
        return t(_sender_language(session, number), "cb_sms_unknown_sender"), None
    lang = promise.language
    if promise.state != PromiseState.BOOKED.value:
        return t(lang, "cb_sms_help", window=_window_text(promise, now)), promise.id
    offered = list(promise.sms_offer or [])
    reply = parse_reply(body, offered=len(offered))
    if reply.kind is ReplyKind.CONFIRM:
        promise.sms_offer = None
        return t(
            lang, "cb_sms_confirmed", window=_window_text(promise, now), number=display_number(promise.number)
        ), promise.id
    if reply.kind is ReplyKind.CANCEL:
        window = _window_text(promise, now)
        cancel_promise(session, promise.id, now, "cancelled by SMS")
        return t(lang, "cb_sms_cancelled", window=window), promise.id
    if reply.kind is ReplyKind.OTHER_TIME:
        return _offer_by_sms(session, promise, now), promise.id
    if reply.kind is ReplyKind.PICK and reply.choice is not None:
        return _move_by_sms(session, promise, now, slot_id=offered[reply.choice - 1])
    wished = parse_requested_time(body, lang, promise.timezone, now)
    if wished is not None:
        return _move_by_sms(session, promise, now, near=wished)
    return t(lang, "cb_sms_help", window=_window_text(promise, now)), promise.id


def _offer_by_sms(session: Session, promise: CallbackPromise, now: datetime) -> str:
    offers = offer_slots(
        session,
        queue_id=promise.queue_id,
        now=now,
        zone=promise.timezone,
        count=3,
        exclude=[promise.slot_id] if promise.slot_id else [],
    )
    if not offers:
        promise.sms_offer = None
        return t(promise.language, "cb_sms_no_other_time", window=_window_text(promise, now))
    promise.sms_offer = [offer.slot_id for offer in offers]
    choices = "; ".join(
        t(
            promise.language,
            "cb_sms_offer_choice",
            choice=i,
            window=format_window(o.window_start, o.window_end, promise.timezone, promise.language, now),
        )
        for i, o in enumerate(offers, start=1)
    )
    return t(promise.language, "cb_sms_offer", choices=choices)


def _move_by_sms(
    session: Session,
    promise: CallbackPromise,
    now: datetime,
    *,
    slot_id: int | None = None,
    near: datetime | None = None,
) -> tuple[str, int]:
    try:
        new = move_promise(session, promise.id, now, slot_id=slot_id, near=near, cause="moved by SMS", notify=False)
    except (SlotFull, NoSlotAvailable):
        # The window was taken meanwhile: offer what is free now instead of going silent.
        return _offer_by_sms(session, promise, now), promise.id
    new.source = "sms"
    text = t(new.language, "cb_sms_moved", window=_window_text(new, now), number=display_number(new.number))
    return text, new.id


# --- after commit ------------------------------------------------------------------------------------


def send_due_reminders(runtime: Runtime) -> int:
    """Queue and send the reminders due now (the reconciler does, in every worker); return how many."""
    with unit_of_work(runtime) as session:
        return len(due_reminders(session, runtime.clock.now()))
