"""Reminders: a text half an hour before a window that was booked well ahead."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.models import CallbackPromise, PromiseState
from callbacks.texts import text_caller, window_text
from telephony.models import SmsMessage
from terugbel.i18n import t
from terugbel.phone import display_number
from terugbel.unit_of_work import unit_of_work

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

REMINDER_BEFORE = timedelta(minutes=30)
REMINDER_MIN_AHEAD = timedelta(hours=2)


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
            window=window_text(promise, now),
            number=display_number(promise.number),
        )
        message = text_caller(session, promise, body, "reminder", now)
        if message is not None:
            queued.append(message)
    return queued


def send_due_reminders(runtime: Runtime) -> int:
    """Queue and send the reminders due now (the reconciler does, in every worker); return how many."""
    with unit_of_work(runtime) as session:
        return len(due_reminders(session, runtime.clock.now()))
