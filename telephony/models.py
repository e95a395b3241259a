"""A record of every text message sent and received, for idempotency and for the caller's history."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from terugbel.db import Base


class SmsDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class SmsMessage(Base):
    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str | None] = mapped_column(String(40), unique=True)  # MessageSid: seen twice, acted on once
    direction: Mapped[str] = mapped_column(String(8))
    number: Mapped[str] = mapped_column(String(20), index=True)  # the caller's side, E.164
    body: Mapped[str] = mapped_column(Text)  # personal data: never logged
    status: Mapped[str] = mapped_column(String(16), default="queued")
    purpose: Mapped[str | None] = mapped_column(String(40))  # confirmation, reminder, incident_fixed...
    promise_id: Mapped[int | None] = mapped_column(ForeignKey("callback_promises.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]  # when a sender took it (pending → sending)

    __table_args__ = (CheckConstraint("direction IN ('inbound', 'outbound')", name="direction"),)


class SmsOptOut(Base):
    """A number that texted STOP (or an equal word): no text goes to it until it texts START.

    Carriers and Twilio honour these words themselves and refuse later texts (error 21610); keeping
    the fact here lets the product stop trying, and tell the caller on the phone instead.
    """

    __tablename__ = "sms_opt_outs"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    keyword: Mapped[str] = mapped_column(String(16))  # the word that opted out, upper case
    opted_out_at: Mapped[datetime]
