"""Book, move and cancel callback promises, atomically, in the caller's transaction.

A booking claims a free place of the best candidate slot (callbacks/places.py) and writes its
promise there, in a savepoint of its own, with its first transition and confirmation text. One
open promise per number is a partial unique index: booking again moves the open promise. What
must happen after commit (dial jobs, texts) goes on the transaction's after-commit list
(terugbel/unit_of_work.py); the caller's `unit_of_work(runtime)` runs it once the changes are in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from callbacks.errors import NoSlotAvailable, PromiseBusy, PromiseNotFound, SlotFull
from callbacks.models import IS_OPEN_PROMISE, CallbackPromise, CallbackSlot, PromiseState
from callbacks.numbers import check_number
from callbacks.offers import offer_slots
from callbacks.places import claim_place, give_back_place, take_place, take_turns_for_number
from callbacks.promise import InvalidPromiseTransition, lock_promise, start_promise, transition
from callbacks.scheduling import schedule_after_commit, unschedule_after_commit
from callbacks.slots import SlotOffer, place_dial_time
from callbacks.texts import confirmation_text, takes_texts, text_caller, window_text
from telephony.outbox import outbound_sms, send_after_commit
from terugbel.i18n import normalise_language, t
from terugbel.logs import get_logger
from terugbel.phone import try_e164
from terugbel.unit_of_work import after_commit

log = get_logger(__name__)

BOOKING_CANDIDATES = 8  # slots a booking tries, best first, before it looks again
_RETRIES = 5
_DEADLOCK = "40P01"  # PostgreSQL's deadlock_detected

_Done = TypeVar("_Done")


def open_promise_for(session: Session, number: str) -> CallbackPromise | None:
    """Return the open promise of this number (E.164), if there is one."""
    e164 = try_e164(number) or number
    return session.scalars(select(CallbackPromise).where(CallbackPromise.number == e164, IS_OPEN_PROMISE)).first()


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
    priority: int = 0,
    source: str = "ivr",
    region: str = "NL",
    needs_sms: bool = True,
    notify: bool = True,
    nearest_if_full: bool = False,
) -> CallbackPromise:
    """Book a callback in `slot_id` (or the best slot for `near`, or the earliest), atomically.

    An open promise of the same number is moved to the new one in the same transaction. With
    `notify` the confirmation SMS is queued. With `nearest_if_full`, a chosen slot that has no place
    left (others took it since it was offered) gives the slot with room nearest to it instead.
    Raises UnusableNumber, SlotFull (a chosen slot has no place), NoSlotAvailable, PromiseBusy.
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
        "priority": max(0, priority),
        "source": source,
    }

    def booking(chosen: int | None, moment: datetime | None) -> Callable[[], CallbackPromise]:
        """The savepoint's work: the promise in slot `chosen`, or in the best of the offers near `moment`."""
        first_offers = None
        if chosen is None:
            # Materialise the slots outside the savepoint, so that a refused booking keeps them.
            first_offers = offer_slots(
                session, queue_id=queue_id, now=now, zone=timezone, near=moment, count=BOOKING_CANDIDATES
            )
            if not first_offers:
                raise NoSlotAvailable("no slot with room in the coming days")

        def book() -> CallbackPromise:
            existing = _lock_open_promise(session, e164)
            if existing is not None and existing.state != PromiseState.BOOKED.value:
                raise PromiseBusy(f"promise {existing.id} is {existing.state}")
            return _take_place_and_create(
                session,
                details,
                now=now,
                slot_id=chosen,
                near=moment,
                replaces=existing,
                by_us=False,
                first_offers=first_offers,
                confirm=notify,
            )

        return book

    first = booking(slot_id, near)
    # The later of two bookings of one number finds the earlier one's promise and moves it,
    # instead of losing a race to the one-open-promise index and starting over.
    take_turns_for_number(session, e164)
    try:
        return in_savepoint_with_retry(session, first)
    except SlotFull:
        chosen_slot = session.get(CallbackSlot, slot_id) if nearest_if_full and slot_id is not None else None
        if chosen_slot is None:
            raise
    return in_savepoint_with_retry(session, booking(None, chosen_slot.starts_at))


def book_again(
    session: Session,
    earlier: CallbackPromise,
    now: datetime,
    *,
    slot_id: int | None = None,
    near: datetime | None = None,
    source: str | None = None,
    nearest_if_full: bool = False,
) -> CallbackPromise:
    """Book a new promise for the caller of an ended one (missed), with its details and priority.

    No confirmation is queued: whoever books again tells the caller the new time in their own text.
    Raises what book_callback raises.
    """
    return book_callback(
        session,
        queue_id=earlier.queue_id,
        number=earlier.number,
        language=earlier.language,
        timezone=earlier.timezone,
        now=now,
        slot_id=slot_id,
        near=near,
        caller_id=earlier.caller_id,
        intent_id=earlier.intent_id,
        problem=earlier.problem,
        contact_id=earlier.contact_id,
        preferred_agent_id=earlier.preferred_agent_id,
        priority=earlier.priority,
        source=source or earlier.source,
        needs_sms=False,  # the number was checked when the earlier promise was booked
        notify=False,
        nearest_if_full=nearest_if_full,
    )


def in_savepoint_with_retry(session: Session, work: Callable[[], _Done]) -> _Done:
    """Run `work` in a savepoint; try again after a deadlock or a same-number race lost to a commit.

    PostgreSQL may pick this transaction to break a deadlock; the savepoint keeps the rest of the
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
    exclude = [] if slot_id else [promise.slot_id] if promise.slot_id else []
    return _replace(session, promise, now, slot_id=slot_id, near=near, cause=cause, exclude=exclude, confirm=notify)


def rebook(
    session: Session, promise: CallbackPromise, slot_id: int, now: datetime, *, cause: str, by_us: bool
) -> CallbackPromise:
    """Move the promise to a place of `slot_id` (no confirmation text); raise SlotFull when it has none."""
    return _replace(session, promise, now, slot_id=slot_id, cause=cause, by_us=by_us)


def _replace(
    session: Session,
    promise: CallbackPromise,
    now: datetime,
    *,
    slot_id: int | None,
    cause: str,
    near: datetime | None = None,
    by_us: bool = False,
    exclude: Iterable[int] = (),
    confirm: bool = False,
) -> CallbackPromise:
    """Book the promise's caller again (in a savepoint of its own) and mark the promise moved to it."""
    details = _details_of(promise)
    return in_savepoint_with_retry(
        session,
        lambda: _take_place_and_create(
            session,
            details,
            now=now,
            slot_id=slot_id,
            near=near,
            replaces=promise,
            by_us=by_us,
            cause=cause,
            exclude=exclude,
            confirm=confirm,
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
    give_back_place(session, promise)
    unschedule_after_commit(after_commit(session), promise.id)
    if notify:
        body = t(promise.language, "cb_sms_cancelled", window=window_text(promise, now))
        text_caller(session, promise, body, "cancelled", now)
    return promise


def close_promise_resolved_by_contact(session: Session, number: str, now: datetime) -> CallbackPromise | None:
    """The caller reached an agent another way: their booked promise, whatever it was about, is resolved.

    The agent now talking with them hears the problem anew; a callback later would be one contact
    too many. A promise being dialled or connected is left to its attempt.
    """
    promise = _lock_open_promise(session, try_e164(number) or number)
    if promise is None or promise.state != PromiseState.BOOKED.value:
        return None
    window = window_text(promise, now)
    cause = "resolved by another contact"
    transition(promise, PromiseState.RESOLVED, now, cause)
    promise.reason = cause
    promise.sms_offer = None
    give_back_place(session, promise)
    unschedule_after_commit(after_commit(session), promise.id)
    text_caller(session, promise, t(promise.language, "cb_sms_resolved", window=window), "resolved", now)
    return promise


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
        "priority": promise.priority,
        "source": promise.source,
    }


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
        # Given back now (the old promise also leaves the open-number index before the new one
        # enters it): a move within one slot may take the place again.
        give_back_place(session, replaces)

    rounds = _candidates(
        session, details, now=now, slot_id=slot_id, near=near, exclude=exclude, first_offers=first_offers
    )
    for candidates in rounds:
        claimed = claim_place(session, candidates, details["queue_id"], now)
        if claimed is not None:
            break
    else:
        if slot_id is not None:
            raise SlotFull(f"slot {slot_id} has no place")
        raise NoSlotAvailable("no slot with room in the coming days")

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
    if confirm and takes_texts(session, promise.number):
        message = outbound_sms(to=promise.number, body=confirmation_text(promise, now), purpose="confirmation", now=now)
        promise.messages.append(message)
    session.add(promise)
    session.flush()
    take_place(session, promise)

    if replaces is not None:
        replaces.moved_to_id = promise.id
        unschedule_after_commit(after_commit(session), replaces.id)
    schedule_after_commit(after_commit(session), promise.id, 1, promise.planned_dial_at)
    if message is not None:
        send_after_commit(session, message.id)
    return promise


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


def _lock_open_promise(session: Session, number: str) -> CallbackPromise | None:
    query = (
        select(CallbackPromise)
        .where(CallbackPromise.number == number, IS_OPEN_PROMISE)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).first()


def _lock_promise(session: Session, promise_id: int) -> CallbackPromise:
    promise = lock_promise(session, promise_id)
    if promise is None:
        raise PromiseNotFound(f"promise {promise_id} does not exist")
    return promise
