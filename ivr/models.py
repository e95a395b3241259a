"""Persistence for the state of calls in the menu."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from terugbel.db import Base


class CallSession(Base):
    """The menu's memory of one call, keyed by Twilio's CallSid."""

    __tablename__ = "call_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(40), unique=True)
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    number: Mapped[str | None] = mapped_column(String(20))  # E.164, None when withheld
    language: Mapped[str] = mapped_column(String(2))
    step: Mapped[str] = mapped_column(String(40))
    # The flow's own state (retries, the intent it is confirming, offered slots...): ivr/flow.py owns it.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_status_sequence: Mapped[int] = mapped_column(default=-1)  # status callbacks seen, for idempotency
    answered_at: Mapped[datetime]
    updated_at: Mapped[datetime]
