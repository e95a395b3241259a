"""SMS opt-out: STOP and its equals stop every text to a number, START and its equals restore them.

Twilio and the carriers act on these words when a whole message is one of them (case and
surrounding spaces aside), and then refuse texts to the number with error 21610. Terugbel records
the same fact so that it stops sending, never treats such a word as a command, and says on the
phone what the caller would otherwise have read. The Dutch words go beyond Twilio's defaults: a
caller who writes AFMELDEN means it too.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from telephony.models import SmsOptOut
from terugbel.db import rows_changed

# Twilio's default opt-out and opt-in keywords, plus Dutch equals.
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "AFMELDEN", "UITSCHRIJVEN"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES", "AANMELDEN"})


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


def keyword_of(body: str) -> Keyword | None:
    """Which opt-out or opt-in word the whole message is, if any."""
    word = (body or "").strip().upper()
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS:
        return Keyword.OPT_IN
    return None


def is_opted_out(session: Session, number: str) -> bool:
    return session.get(SmsOptOut, number) is not None


def record_opt_out(session: Session, number: str, keyword: str, now: datetime) -> None:
    """Stop every text to `number` (kept when it had opted out already)."""
    if number and not is_opted_out(session, number):
        session.add(SmsOptOut(number=number, keyword=keyword[:16].upper(), opted_out_at=now))
        session.flush()


def record_opt_in(session: Session, number: str) -> bool:
    """Allow texts to `number` again; True if it had opted out."""
    return rows_changed(session, delete(SmsOptOut).where(SmsOptOut.number == number)) > 0


def record_keyword(session: Session, number: str, body: str, now: datetime) -> Keyword | None:
    """Record what an incoming text's keyword asks for; return the keyword (None: an ordinary text)."""
    keyword = keyword_of(body)
    if keyword is Keyword.OPT_OUT:
        record_opt_out(session, number, body.strip(), now)
    elif keyword is Keyword.OPT_IN:
        record_opt_in(session, number)
    return keyword

