"""Storage limitation: the caller's words are cleared a fixed number of days after the contact.

What a caller said (transcripts, the words and typed numbers in a call's menu state, the problem of
a callback, the body of an SMS) is kept for `TERUGBEL_TRANSCRIPT_RETENTION_DAYS` (default 90), long
enough for routing by history and for a supervisor to look back, then cleared by a job the workers
run every hour. The rows stay: outcomes, times, states and counts still feed the metrics and the
caller's history; only the words go. A callback still open, or a text not yet sent, keeps its words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Text, Update, cast, update
from sqlalchemy.orm import Session

from callbacks.models import OPEN_PROMISE_STATES, CallbackPromise
from ivr.models import CallSession
from routing.models import Contact
from telephony.models import SmsMessage
from telephony.outbox import PENDING, SENDING
from terugbel.db import rows_changed
from terugbel.logs import get_logger
from terugbel.runtime import current_runtime
from terugbel.unit_of_work import unit_of_work

log = get_logger(__name__)

RETENTION_INTERVAL_SECONDS = 3600  # how often the workers run the job


@dataclass(frozen=True)
class ClearedWords:
    """How many rows of each kind lost their words in one run."""

    transcripts: int
    call_states: int
    problems: int
    sms_bodies: int


def clear_expired_words(session: Session, *, now: datetime, retention_days: int) -> ClearedWords:
    """Clear the words of every contact, call, callback and SMS older than `retention_days`."""
    cutoff = now - timedelta(days=retention_days)
    transcripts = bulk_change(
        session,
        update(Contact).where(Contact.transcript.is_not(None), Contact.started_at < cutoff).values(transcript=None),
    )
    call_states = bulk_change(
        session,
        update(CallSession)
        .where(CallSession.updated_at < cutoff, cast(CallSession.data, Text) != "{}")
        .values(data={}),
    )
    problems = bulk_change(
        session,
        update(CallbackPromise)
        .where(
            CallbackPromise.problem.is_not(None),
            CallbackPromise.window_end < cutoff,
            CallbackPromise.state.not_in([state.value for state in OPEN_PROMISE_STATES]),
        )
        .values(problem=None),
    )
    sms_bodies = bulk_change(
        session,
        update(SmsMessage)
        .where(SmsMessage.body != "", SmsMessage.created_at < cutoff, SmsMessage.status.not_in([PENDING, SENDING]))
        .values(body=""),
    )
    return ClearedWords(transcripts, call_states, problems, sms_bodies)


def clear_expired_words_job() -> ClearedWords:
    """The workers' hourly job (terugbel/worker.py): idempotent, so two workers running it is harmless."""
    runtime = current_runtime()
    with unit_of_work(runtime) as session:
        cleared = clear_expired_words(
            session, now=runtime.clock.now(), retention_days=runtime.settings.transcript_retention_days
        )
    log.info("expired words cleared", **vars(cleared))
    return cleared


def bulk_change(session: Session, statement: Update) -> int:
    """Run a bulk UPDATE of personal data, leaving loaded objects as they are (none is read again)."""
    return rows_changed(session, statement.execution_options(synchronize_session=False))
