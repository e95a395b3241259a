"""Outbound SMS through an outbox: queued in the caller's transaction, sent once after commit.

A message is a `SmsMessage` row: pending → sending → sent (with the network's SID), or failed.
Claiming a message (pending → sending) commits before the network is asked, so two workers never
send the same message; a retryable network error puts it back to pending for the next try. The
reconciler hands pending messages to the SMS queue again (`redispatch_pending`), so neither a lost
job nor a network error leaves a text unsent.

The send job is `send_sms` below, enqueued by reference with the job id `sms-<message id>`: enqueued
twice it replaces itself, and the claim stops a second send.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from telephony.models import SmsDirection, SmsMessage
from telephony.opt_out import is_opted_out, record_opt_out
from telephony.port import OptedOutError, PermanentTelephonyError, RetryableTelephonyError, TelephonyError
from terugbel.db import rows_changed
from terugbel.logs import get_logger
from terugbel.phone import ERASED_NUMBER, mask
from terugbel.redis_conn import SMS_QUEUE, queue
from terugbel.runtime import current_runtime
from terugbel.tallies import SMS_ERRORS, tally
from terugbel.unit_of_work import after_commit

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
OPTED_OUT = "opted_out"  # never sent: the number texted STOP
# The last text to a caller who asked to be forgotten: once sent (or given up), its number and body go too.
ERASURE_NOTICE = "erasure_notice"
_FORGOTTEN = {"number": ERASED_NUMBER, "body": ""}


def queue_sms(
    session: Session, *, to: str, body: str, purpose: str, now: datetime, promise_id: int | None = None
) -> SmsMessage:
    """Add a pending outbound message in the caller's transaction; it is sent after commit."""
    message = outbound_sms(to=to, body=body, purpose=purpose, now=now)
    message.promise_id = promise_id
    session.add(message)
    session.flush()
    send_after_commit(session, message.id)
    return message


def send_after_commit(session: Session, message_id: int) -> None:
    """Hand the pending message to the SMS queue once the session's transaction has committed."""
    after_commit(session).add(lambda runtime: dispatch_pending(runtime, [message_id]), key=("sms", message_id))


def outbound_sms(*, to: str, body: str, purpose: str, now: datetime) -> SmsMessage:
    """Return a pending outbound message, not yet added to a session (queue_sms adds one)."""
    return SmsMessage(
        direction=SmsDirection.OUTBOUND.value,
        number=to,
        body=body,
        status=PENDING,
        purpose=purpose[:40],
        created_at=now,
    )


def pending_messages(session: Session) -> list[SmsMessage]:
    """Return the outbound messages still to send, oldest first."""
    query = (
        select(SmsMessage)
        .where(SmsMessage.direction == SmsDirection.OUTBOUND.value, SmsMessage.status == PENDING)
        .order_by(SmsMessage.id)
    )
    return list(session.scalars(query))


def send_queued_sms(runtime: Runtime, message_id: int) -> str:
    """Send one queued message if nobody has; return its status (pending again after a retryable error)."""
    with runtime.db.session() as session:
        claimed = rows_changed(
            session,
            update(SmsMessage)
            .where(SmsMessage.id == message_id, SmsMessage.status == PENDING)
            .values(status=SENDING, claimed_at=runtime.clock.now())
            .execution_options(synchronize_session=False),
        )
        message = session.get(SmsMessage, message_id)
        if message is None:
            return "unknown"
        if not claimed:
            return message.status  # sent, being sent, or failed: never twice
        to, body = message.number, message.body
        if is_opted_out(session, to):
            message.status = OPTED_OUT
            _forget_erasure_notice(session, message_id)
            return OPTED_OUT
    try:
        sent = runtime.telephony.send_sms(to, body)
    except RetryableTelephonyError as exc:
        log.warning("sms not sent yet", message_id=message_id, number=mask(to), code=exc.code, status=exc.status)
        tally(runtime.redis, SMS_ERRORS, {"reason": "retryable"})
        _set_status(runtime, message_id, PENDING)
        return PENDING
    except OptedOutError:
        # Opted out with the carrier before we heard of it (a STOP sent to another of our numbers, say).
        with runtime.db.session() as session:
            record_opt_out(session, to, "21610", runtime.clock.now())
        _set_status(runtime, message_id, OPTED_OUT)
        log.info("sms not sent: the number opted out", message_id=message_id, number=mask(to))
        return OPTED_OUT
    except PermanentTelephonyError as exc:
        log.warning("sms refused", message_id=message_id, number=mask(to), code=exc.code, status=exc.status)
        tally(runtime.redis, SMS_ERRORS, {"reason": "refused"})
        _set_status(runtime, message_id, FAILED)
        return FAILED
    except Exception:
        # Unknown outcome of our own making (not the network's answer): free it for the next try.
        tally(runtime.redis, SMS_ERRORS, {"reason": "unexpected"})
        _set_status(runtime, message_id, PENDING)
        raise
    _set_status(runtime, message_id, SENT, sid=sent.sid)
    return SENT


def send_pending(runtime: Runtime) -> dict[int, str]:
    """Send every pending message now, in this process; return each message's status."""
    with runtime.db.session() as session:
        ids = [message.id for message in pending_messages(session)]
    return {message_id: send_queued_sms(runtime, message_id) for message_id in ids}


def sms_job_id(message_id: int) -> str:
    """The send job id of one message: `sms-<message id>`."""
    return f"sms-{message_id}"


def send_sms(message_id: int) -> str:
    """RQ job: send one queued SMS, unless it was sent already."""
    return send_queued_sms(current_runtime(), message_id)


def dispatch_pending(runtime: Runtime, message_ids: list[int] | None = None) -> None:
    """Hand pending messages to the SMS worker queue (all pending ones when no ids are given)."""
    if message_ids is None:
        with runtime.db.session() as session:
            message_ids = [message.id for message in pending_messages(session)]
    sms_queue = queue(runtime.redis, SMS_QUEUE)
    for message_id in message_ids:
        # One job id per message: enqueuing twice replaces, and the claim above stops a double send.
        sms_queue.enqueue(send_sms, message_id, job_id=sms_job_id(message_id))


# A message pending this long lost its job (Redis emptied, or a crash between commit and enqueue)
# or waits for another try after a network error.
RESEND_AFTER = timedelta(minutes=1)
# A text that could not go out for this long has missed its moment (a confirmation, a reminder, a
# fix notice): it is marked failed rather than sent late.
GIVE_UP_AFTER = timedelta(hours=6)
_OUTBOUND_PENDING = (SmsMessage.direction == SmsDirection.OUTBOUND.value, SmsMessage.status == PENDING)


# A message claimed this long ago without an outcome: its sender died between asking the network
# and writing down the answer (a send itself gives up within a minute).
UNSETTLED_AFTER = timedelta(minutes=10)
# How far the network's clock may be behind ours when matching a message it has.
_CLOCK_SLACK = timedelta(minutes=1)


def redispatch_pending(runtime: Runtime) -> list[int]:
    """Hand the SMS queue every message still pending after RESEND_AFTER; return their ids.

    Safe to repeat: a message is claimed before it is sent, so a second job for it does nothing.
    """
    now = runtime.clock.now()
    with runtime.db.session() as session:
        too_old = (*_OUTBOUND_PENDING, SmsMessage.created_at < now - GIVE_UP_AFTER)
        expired_notices = rows_changed(
            session,
            update(SmsMessage)
            .where(*too_old, SmsMessage.purpose == ERASURE_NOTICE)
            .values(status=FAILED, **_FORGOTTEN)
            .execution_options(synchronize_session=False),
        )
        expired = expired_notices + rows_changed(
            session,
            update(SmsMessage).where(*too_old).values(status=FAILED).execution_options(synchronize_session=False),
        )
        due = list(
            session.scalars(
                select(SmsMessage.id)
                .where(*_OUTBOUND_PENDING, SmsMessage.created_at <= now - RESEND_AFTER)
                .order_by(SmsMessage.id)
            )
        )
    if expired:
        log.warning("sms given up after hours unsent", count=expired)
        tally(runtime.redis, SMS_ERRORS, {"reason": "given_up"}, amount=expired)
    if due:
        dispatch_pending(runtime, due)
    return due


def settle_unfinished_sends(runtime: Runtime) -> dict[int, str]:
    """Messages left in sending by a crash: sent if the network has them, otherwise pending again.

    Asking the network keeps a text that did go out from going out twice. Returns each settled
    message's new status; a message the network cannot be asked about now waits for the next pass.
    """
    now = runtime.clock.now()
    claimed_at = func.coalesce(SmsMessage.claimed_at, SmsMessage.created_at)
    with runtime.db.session() as session:
        unsettled = session.execute(
            select(SmsMessage.id, SmsMessage.number, SmsMessage.body, claimed_at).where(
                SmsMessage.direction == SmsDirection.OUTBOUND.value,
                SmsMessage.status == SENDING,
                claimed_at <= now - UNSETTLED_AFTER,
            )
        ).all()
    settled: dict[int, str] = {}
    for message_id, number, body, claimed in unsettled:
        try:
            found = runtime.telephony.find_sent_sms(number, body, since=claimed - _CLOCK_SLACK)
        except TelephonyError as exc:
            log.warning("unsettled sms not checked yet", message_id=message_id, number=mask(number), code=exc.code)
            continue
        status = SENT if found is not None else PENDING
        _set_status(runtime, message_id, status, sid=found.sid if found else None, only_if=SENDING)
        settled[message_id] = status
    if settled:
        log.warning("settled sms left in sending by a crash", sent=list(settled.values()).count(SENT),
                    again=list(settled.values()).count(PENDING))  # fmt: skip
    return settled


def _set_status(
    runtime: Runtime, message_id: int, status: str, *, sid: str | None = None, only_if: str | None = None
) -> None:
    values: dict[str, str] = {"status": status}
    if sid is not None:
        values["sid"] = sid
    conditions = [SmsMessage.id == message_id]
    if only_if is not None:
        conditions.append(SmsMessage.status == only_if)
    with runtime.db.session() as session:
        session.execute(
            update(SmsMessage).where(*conditions).values(**values).execution_options(synchronize_session=False)
        )
        if status in {SENT, FAILED, OPTED_OUT}:
            _forget_erasure_notice(session, message_id)


def _forget_erasure_notice(session: Session, message_id: int) -> None:
    session.execute(
        update(SmsMessage)
        .where(SmsMessage.id == message_id, SmsMessage.purpose == ERASURE_NOTICE)
        .values(**_FORGOTTEN)
        .execution_options(synchronize_session=False)
    )
