"""The right to erasure: a caller who asks to be forgotten is, everywhere we kept them.

Their open callback is cancelled with one last text (sent, then forgotten too), and then every
place that holds their number, name or words is cleared: the caller row is deleted, their contacts,
calls, callbacks and texts stay as anonymous rows (outcomes, times and counts still feed the
metrics), their incident subscriptions go, and audit entries that named them lose their details.
The audit log records that an erasure happened and who asked for it, without the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Text, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from callbacks.booking import cancel_promise
from callbacks.models import IS_OPEN_PROMISE, CallbackPromise, PromiseState
from callbacks.texts import text_caller, window_text
from ivr.models import CallSession
from privacy.retention import bulk_change
from routing.models import Caller, Contact, IncidentSubscription
from telephony.models import SmsMessage, SmsOptOut
from telephony.outbox import ERASURE_NOTICE, PENDING, SENDING
from terugbel.audit import AuditEntry, record_audit
from terugbel.i18n import t
from terugbel.phone import ERASED_NUMBER
from terugbel.validation import ChangeRefused, NotFound

ERASURE_CAUSE = "the caller asked to be forgotten"


@dataclass(frozen=True)
class Erasure:
    """What one erasure did, in counts: nothing here names the caller."""

    caller_id: int
    cancelled_callbacks: int
    contacts: int
    calls: int
    callbacks: int
    texts: int


def erase_caller(session: Session, caller_id: int, *, actor: str, now: datetime) -> Erasure:
    """Forget the caller: cancel their open callback with a last text, then clear them everywhere."""
    caller = session.get(Caller, caller_id, with_for_update=True)
    if caller is None:
        raise NotFound(f"caller {caller_id}")
    number, name = caller.number, caller.name
    of_caller = or_(CallbackPromise.caller_id == caller_id, CallbackPromise.number == number)
    cancelled = [_cancel_with_a_last_text(session, promise, now) for promise in _open_callbacks(session, of_caller)]
    session.flush()  # the cancellations first: the bulk updates below bypass the session

    calls_of_caller = or_(CallSession.caller_id == caller_id, CallSession.number == number)
    contact_ids = select(CallSession.contact_id).where(calls_of_caller, CallSession.contact_id.is_not(None))
    contacts = bulk_change(
        session,
        update(Contact)
        .where(or_(Contact.caller_id == caller_id, Contact.id.in_(contact_ids)))
        .values(caller_id=None, transcript=None, outcome_note=None),
    )
    calls = bulk_change(
        session, update(CallSession).where(calls_of_caller).values(caller_id=None, number=None, data={})
    )
    callbacks = bulk_change(
        session,
        update(CallbackPromise).where(of_caller).values(caller_id=None, number=ERASED_NUMBER, problem=None),
    )
    # The last texts leave with the number they need; the outbox forgets them once they are sent.
    unsent_notice = (SmsMessage.purpose == ERASURE_NOTICE) & SmsMessage.status.in_([PENDING, SENDING])
    texts = bulk_change(
        session,
        update(SmsMessage).where(SmsMessage.number == number, ~unsent_notice).values(number=ERASED_NUMBER, body=""),
    )
    session.execute(delete(IncidentSubscription).where(IncidentSubscription.number == number))
    session.execute(delete(SmsOptOut).where(SmsOptOut.number == number))
    _forget_in_audit(session, caller_id, [word for word in (number, name) if word])
    session.delete(caller)
    erasure = Erasure(caller_id, len(cancelled), contacts, calls, callbacks, texts)
    record_audit(
        session, at=now, actor=actor, action="caller.erased", subject=f"caller:{caller_id}",
        details={"cancelled_callbacks": erasure.cancelled_callbacks},
    )  # fmt: skip
    return erasure


def _open_callbacks(session: Session, of_caller: ColumnElement[bool]) -> list[CallbackPromise]:
    return list(session.scalars(select(CallbackPromise).where(of_caller, IS_OPEN_PROMISE).with_for_update()))


def _cancel_with_a_last_text(session: Session, promise: CallbackPromise, now: datetime) -> int:
    if promise.state != PromiseState.BOOKED.value:
        # Being dialled right now: cancelling would hang up on an agent and a caller mid-call.
        raise ChangeRefused("caller", "a callback to this caller is under way; erase them when it has ended")
    window = window_text(promise, now)
    cancel_promise(session, promise.id, now, ERASURE_CAUSE)
    text_caller(session, promise, t(promise.language, "cb_sms_cancelled", window=window), ERASURE_NOTICE, now)
    return promise.id


def _forget_in_audit(session: Session, caller_id: int, words: list[str]) -> None:
    """Clear the details of every audit entry about the caller or that holds their number or name."""
    # As stored: JSON escapes what is not ASCII ("Zoë" is "Zo\\u00eb" in the details' text).
    spellings = {spelling for word in words for spelling in (word, json.dumps(word)[1:-1])}
    mentions = [cast(AuditEntry.details, Text).contains(spelling, autoescape=True) for spelling in spellings]
    session.execute(
        update(AuditEntry)
        .where(or_(AuditEntry.subject == f"caller:{caller_id}", *mentions))
        .values(details={"erased": True})
        .execution_options(synchronize_session=False)
    )
