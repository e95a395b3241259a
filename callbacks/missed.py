"""A promise we could not keep: book the caller a new time and text it, just after the attempt ends.

Giving up happens inside an attempt's transaction, which holds the attempt's and the promise's
row locks that the legs' status callbacks wait for. Booking a new time looks for a slot with room
and locks slots, which a busy center's bookings contend for, so it runs in a transaction of its
own right after that commit (`rebook_after_commit`). Should the process die in between, the
reconciler finds the missed promise with neither a new time nor a text (`rebook_untold`) and does
it then: every caller whose promise is missed is texted a new time, or our next opening.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.orm import Session

from callbacks.booking import book_again
from callbacks.errors import CallbackError
from callbacks.models import CallbackPromise, PromiseState
from callbacks.promise import lock_promise
from callbacks.rebalance import CANNOT_KEEP_SMS_PURPOSE, NO_SLOT_WITH_ROOM
from callbacks.texts import offer_next_opening
from telephony.models import SmsMessage
from telephony.outbox import queue_sms
from terugbel.i18n import format_window, t
from terugbel.logs import get_logger
from terugbel.phone import display_number, mask
from terugbel.unit_of_work import AfterCommit, unit_of_work

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)

MISSED_SMS_PURPOSE = "promise_missed"
# The texts that tell a caller their promise is missed: this module's, and the re-planner's when no
# slot has room (callbacks/rebalance.py). A missed promise with neither has not been told.
TOLD_PURPOSES = (MISSED_SMS_PURPOSE, CANNOT_KEEP_SMS_PURPOSE)
# How far back the reconciler looks for a missed promise nobody told: a crash is noticed within
# minutes, and an older one is past any time we could still name.
UNTOLD_LOOKBACK = timedelta(hours=6)


def rebook_after_commit(after: AfterCommit, promise_id: int) -> None:
    """Once the transaction that marked the promise missed commits, book and text its new time."""

    def rebook(runtime: Runtime) -> None:
        rebook_missed(runtime, promise_id)

    after.add(rebook, key=("rebook-missed", promise_id))


def rebook_missed(runtime: Runtime, promise_id: int) -> bool:
    """Book a missed promise's caller a new time near the old one and text it; False if already done."""
    now = runtime.clock.now()
    with unit_of_work(runtime) as session:
        promise = lock_promise(session, promise_id)
        if promise is None:
            return False
        if session.scalar(select(CallbackPromise.id).where(CallbackPromise.id == promise_id, _untold())) is None:
            return False
        _book_and_tell(session, promise, now)
        return True


def rebook_untold(runtime: Runtime) -> list[int]:
    """The reconciler's pass: the missed promises a crash left untold, rebooked and texted now."""
    now = runtime.clock.now()
    with runtime.db.session() as session:
        candidates = session.scalars(
            select(CallbackPromise.id).where(_untold(), CallbackPromise.ended_at >= now - UNTOLD_LOOKBACK)
        ).all()
    return [promise_id for promise_id in candidates if rebook_missed(runtime, promise_id)]


def _untold() -> ColumnElement[bool]:
    """Missed, with neither a new promise nor a text telling the caller."""
    told = exists().where(SmsMessage.promise_id == CallbackPromise.id, SmsMessage.purpose.in_(TOLD_PURPOSES))
    return and_(
        CallbackPromise.state == PromiseState.MISSED.value,
        CallbackPromise.moved_to_id.is_(None),
        # The re-planner texts what it could not place itself, or not at all to a landline.
        CallbackPromise.reason != NO_SLOT_WITH_ROOM,
        ~told,
    )


def _book_and_tell(session: Session, promise: CallbackPromise, now: datetime) -> None:
    old_window = format_window(promise.window_start, promise.window_end, promise.timezone, promise.language, now)
    slot_length = promise.window_end - promise.window_start
    try:
        with session.begin_nested():
            new = book_again(session, promise, now, near=promise.window_end + slot_length)
        promise.moved_to_id = new.id
        body = t(
            promise.language,
            "cbd_sms_rebooked",
            old_window=old_window,
            number=display_number(promise.number),
            window=format_window(new.window_start, new.window_end, new.timezone, new.language, now),
        )
    except CallbackError as exc:
        log.warning("no new time for a missed promise", promise=promise.id, error=type(exc).__name__)
        opening = offer_next_opening(session, promise, now)
        body = (
            t(promise.language, "cbd_sms_no_new_time", old_window=old_window, window=opening)
            if opening is not None
            else t(promise.language, "cb_sms_no_opening", old_window=old_window)
        )
    queue_sms(session, to=promise.number, body=body, purpose=MISSED_SMS_PURPOSE, now=now, promise_id=promise.id)
    log.info("missed promise rebooked", promise=promise.id, moved_to=promise.moved_to_id, number=mask(promise.number))
