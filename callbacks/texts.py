"""The texts a caller reads about their promise: its window in their words, and sending one.

The sentences themselves live in the "caller" catalogue (terugbel/i18n.py); this module fills them in and queues them
in the outbox (telephony/outbox.py), which sends them after commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from callbacks.models import CallbackPromise
from callbacks.offers import ensure_slots, next_opening
from telephony.models import SmsMessage
from telephony.opt_out import is_opted_out
from telephony.outbox import queue_sms
from terugbel.i18n import few_words, format_window, t
from terugbel.phone import can_text, display_number

PROBLEM_IN_SMS_LIMIT = 60  # characters of the caller's words a confirmation repeats


def window_text(promise: CallbackPromise, now: datetime) -> str:
    """Return the promise's window as the caller reads it ("vandaag tussen 14:30 en 14:45")."""
    return format_window(promise.window_start, promise.window_end, promise.timezone, promise.language, now)


def confirmation_text(promise: CallbackPromise, now: datetime) -> str:
    """Return the confirmation SMS: window, number to be called, the problem, what replies do."""
    window, number = window_text(promise, now), display_number(promise.number)
    problem = few_words(promise.problem, PROBLEM_IN_SMS_LIMIT)
    if problem is None:
        return t(promise.language, "cb_sms_confirmation_plain", window=window, number=number)
    return t(promise.language, "cb_sms_confirmation", window=window, number=number, problem=problem)


def takes_texts(session: Session, number: str) -> bool:
    """Whether texts to `number` reach the caller: a mobile number that has not opted out (STOP)."""
    return can_text(number) and not is_opted_out(session, number)


def text_caller(
    session: Session, promise: CallbackPromise, body: str, purpose: str, now: datetime
) -> SmsMessage | None:
    """Queue `body` for the promise's caller (sent after commit); None for a number that takes no texts."""
    if not takes_texts(session, promise.number):
        return None  # a landline (booked with needs_sms=False), or the caller texted STOP
    return queue_sms(session, to=promise.number, body=body, purpose=purpose, now=now, promise_id=promise.id)


def offer_next_opening(session: Session, promise: CallbackPromise, now: datetime) -> str | None:
    """Offer a promise no slot with room replaces a call at our next opening; return its window in words.

    The promise keeps the opening's first slot as its SMS offer, and a reply of 1 books it
    (callbacks/sms_conversation.py). None for a queue without opening hours in the coming year:
    then there is no time to name.
    """
    opening = next_opening(session, promise.queue_id, now)
    if opening is None:
        return None
    first_slots = ensure_slots(session, promise.queue_id, opening[0], opening[1], now)
    promise.sms_offer = [first_slots[0].id] if first_slots else None
    return format_window(opening[0], opening[1], promise.timezone, promise.language, now)
