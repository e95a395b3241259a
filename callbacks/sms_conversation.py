"""A caller's SMS reply to a promise: confirm, cancel, ask for another time, pick one, or name one.

A promise we could not keep, with no time free in the weeks offers search, offered a call at our
next opening (callbacks/texts.py `offer_next_opening`): a reply of 1 books it.

Each reply is stored with the answer sent back (as the webhook's response, not through the
outbox), so a reply delivered twice (the same MessageSid) gets the same answer and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.booking import book_again, cancel_promise, move_promise, open_promise_for
from callbacks.errors import NoSlotAvailable, SlotFull
from callbacks.models import CallbackPromise, CallbackSlot, PromiseState
from callbacks.offers import offer_slots
from callbacks.sms_replies import ReplyKind, parse_reply
from callbacks.texts import window_text
from callbacks.timeparse import parse_requested_time
from routing.models import Caller
from telephony.models import SmsDirection, SmsMessage
from telephony.opt_out import Keyword, keyword_of, record_keyword
from terugbel.i18n import format_window, t
from terugbel.phone import display_number, language_for_number, try_e164


def handle_sms_reply(session: Session, *, from_number: str, body: str, message_sid: str, now: datetime) -> str:
    """Act on a caller's SMS reply and return the text to answer with (same answer for a repeated sid).

    STOP and its equals opt the number out of texts and get no answer ("": nothing to send); START
    opts it in again and is answered like any other text.
    """
    seen = session.scalars(select(SmsMessage).where(SmsMessage.sid == message_sid)).first()
    if seen is not None:
        if keyword_of(seen.body) is Keyword.OPT_OUT:
            return ""
        earlier = session.scalars(select(SmsMessage).where(SmsMessage.purpose == f"reply:{seen.id}")).first()
        return (
            earlier.body if earlier is not None else t(_sender_language(session, seen.number), "cb_sms_unknown_sender")
        )

    number = try_e164(from_number) or (from_number or "")[:20]
    promise = (open_promise_for(session, number) or _opening_offered_to(session, number)) if number else None
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
    if record_keyword(session, number, body or "", now) is Keyword.OPT_OUT:
        # The carrier confirms the opt-out itself and would refuse any answer of ours.
        return ""
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
    return language_for_number(number)


def _answer(
    session: Session, promise: CallbackPromise | None, number: str, body: str, now: datetime
) -> tuple[str, int | None]:
    """Return the reply text and the id of the promise it is about."""
    if promise is None:
        return t(_sender_language(session, number), "cb_sms_unknown_sender"), None
    lang = promise.language
    if promise.state == PromiseState.MISSED.value:
        return _answer_opening_offer(session, promise, body, now)
    if promise.state != PromiseState.BOOKED.value:
        return t(lang, "cb_sms_help", window=window_text(promise, now)), promise.id
    offered = list(promise.sms_offer or [])
    reply = parse_reply(body, offered=len(offered))
    if reply.kind is ReplyKind.CONFIRM:
        promise.sms_offer = None
        return t(
            lang, "cb_sms_confirmed", window=window_text(promise, now), number=display_number(promise.number)
        ), promise.id
    if reply.kind is ReplyKind.CANCEL:
        window = window_text(promise, now)
        cancel_promise(session, promise.id, now, "cancelled by SMS")
        return t(lang, "cb_sms_cancelled", window=window), promise.id
    if reply.kind is ReplyKind.OTHER_TIME:
        return _offer_by_sms(session, promise, now), promise.id
    if reply.kind is ReplyKind.PICK and reply.choice is not None:
        return _move_by_sms(session, promise, now, slot_id=offered[reply.choice - 1])
    wished = parse_requested_time(body, lang, promise.timezone, now)
    if wished is not None:
        return _move_by_sms(session, promise, now, near=wished)
    return t(lang, "cb_sms_help", window=window_text(promise, now)), promise.id


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
        return t(promise.language, "cb_sms_no_other_time", window=window_text(promise, now))
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
    text = t(new.language, "cb_sms_moved", window=window_text(new, now), number=display_number(new.number))
    return text, new.id


def _opening_offered_to(session: Session, number: str) -> CallbackPromise | None:
    """The number's latest promise, when it is a missed one that offered a call at our next opening."""
    latest = session.scalars(
        select(CallbackPromise).where(CallbackPromise.number == number).order_by(CallbackPromise.id.desc())
    ).first()
    if latest is None or latest.state != PromiseState.MISSED.value or not latest.sms_offer:
        return None
    return latest


def _answer_opening_offer(
    session: Session, missed: CallbackPromise, body: str, now: datetime
) -> tuple[str, int | None]:
    """Book, decline or explain the call at our next opening that a missed promise's text offered."""
    lang = missed.language
    offered = missed.sms_offer or []
    slot = session.get(CallbackSlot, offered[0]) if offered else None
    if slot is None or slot.starts_at <= now:
        missed.sms_offer = None  # the opening came and went: nothing left to book
        return t(lang, "cb_sms_unknown_sender"), missed.id
    window = format_window(slot.starts_at, slot.ends_at, missed.timezone, lang, now)
    reply = parse_reply(body, offered=1)
    if reply.kind is ReplyKind.CANCEL:
        missed.sms_offer = None
        return t(lang, "cb_sms_opening_declined"), missed.id
    if reply.kind not in (ReplyKind.CONFIRM, ReplyKind.PICK):
        return t(lang, "cb_sms_opening_help", window=window), missed.id
    missed.sms_offer = None
    try:
        # Others may have taken its places since our text: the nearest time with room instead.
        new = book_again(session, missed, now, slot_id=slot.id, source="sms", nearest_if_full=True)
    except NoSlotAvailable:
        return t(lang, "cb_sms_opening_full", window=window), missed.id
    missed.moved_to_id = new.id
    return t(lang, "cb_sms_opening_booked", window=window_text(new, now), number=display_number(new.number)), new.id
