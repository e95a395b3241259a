"""Persistence for callback slots, promises, their transitions and dial attempts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from telephony.models import SmsMessage
from terugbel.db import Base


def _in(column: str, values: type[enum.Enum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


_BOOKABLE_SQL = "closed IS false AND capacity > 0"  # the same words as the offers' condition


class CallbackSlot(Base):
    """One bookable window of a queue, with places 0 … capacity − 1.

    A promise holds a place by its `place` number. `booked`, the places held, is a count of those
    promises (mapped after CallbackPromise below), never a stored counter.
    """

    __tablename__ = "callback_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int] = mapped_column(default=0)  # derived from shifts, or the override
    capacity_override: Mapped[int | None] = mapped_column()  # set by a supervisor
    closed: Mapped[bool] = mapped_column(default=False)  # closed by a supervisor
    if TYPE_CHECKING:
        # Mapped below, once CallbackPromise exists; declared here so its type is known.
        booked: Mapped[int]

    __table_args__ = (
        UniqueConstraint("queue_id", "starts_at"),
        # The slots an offer can use: weeks without a roster yet (capacity 0) and closed slots are
        # skipped by the index instead of read and filtered on every offer.
        Index(
            "ix_callback_slots_bookable",
            "queue_id",
            "starts_at",
            sqlite_where=text(_BOOKABLE_SQL),
            postgresql_where=text(_BOOKABLE_SQL),
        ),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("ends_at > starts_at", name="order"),
    )


class PromiseState(enum.StrEnum):
    BOOKED = "booked"
    DIALLING = "dialling"
    CONNECTED = "connected"
    COMPLETED = "completed"
    MISSED = "missed"  # could not be kept; the caller was told what happens instead
    CANCELLED = "cancelled"
    MOVED = "moved"  # replaced by a newer promise (moved by the caller or by us)
    FAILED = "failed"  # permanent failure (e.g. the number turned out invalid)
    RESOLVED = "resolved"  # closed unneeded: the caller reached an agent another way while it was booked


OPEN_PROMISE_STATES = (PromiseState.BOOKED, PromiseState.DIALLING, PromiseState.CONNECTED)
_OPEN_SQL = "state IN ('booked', 'dialling', 'connected')"


class CallbackPromise(Base):
    """A promise to call a caller back inside a concrete window."""

    __tablename__ = "callback_promises"

    id: Mapped[int] = mapped_column(primary_key=True)
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("intents.id", ondelete="SET NULL"))
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("callback_slots.id", ondelete="SET NULL"))
    # The place held in the slot (0 … capacity − 1); None once given back (cancelled, moved).
    place: Mapped[int | None]
    number: Mapped[str] = mapped_column(String(20))  # E.164 number to call
    language: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(60))  # the caller's zone, for every sentence
    problem: Mapped[str | None] = mapped_column(Text)  # the caller's words: personal data
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    planned_dial_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(10), default=PromiseState.BOOKED.value)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    next_attempt_at: Mapped[datetime | None]
    preferred_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    # The caller's priority when it was booked (routing's: VIP, repeat, unresolved, rules): when
    # agents are short, a higher one is dialled first (callbacks/agent_choice.py).
    priority: Mapped[int] = mapped_column(default=0, server_default="0")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    job_id: Mapped[str | None] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(10), default="ivr")  # ivr, sms, api
    moved_by_us: Mapped[bool] = mapped_column(default=False)
    at_risk: Mapped[bool] = mapped_column(default=False)
    moved_to_id: Mapped[int | None] = mapped_column(ForeignKey("callback_promises.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(200))  # why it failed, was missed or moved
    booked_at: Mapped[datetime]
    first_dial_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    reminder_sent_at: Mapped[datetime | None]
    # Slot ids of the windows last offered by SMS ("2 = other time"): a reply digit picks from these.
    sms_offer: Mapped[list[int] | None] = mapped_column(JSON)

    transitions: Mapped[list[PromiseTransition]] = relationship(
        back_populates="promise", order_by="PromiseTransition.id", cascade="all, delete-orphan"
    )
    attempt_records: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="promise", order_by="CallbackAttempt.number", cascade="all, delete-orphan"
    )
    # The texts about this promise. A booking adds its confirmation here, so that one flush writes
    # the promise, its first transition and the text.
    messages: Mapped[list[SmsMessage]] = relationship(order_by=SmsMessage.id)

    __table_args__ = (
        CheckConstraint(_in("state", PromiseState), name="state"),
        CheckConstraint("window_end > window_start", name="window_order"),
        CheckConstraint("source IN ('ivr', 'sms', 'api', 'console')", name="source"),
        # One open promise per number, enforced by the database on both backends.
        Index(
            "uq_callback_promises_open_number",
            "number",
            unique=True,
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
        # No two promises hold the same place of a slot: with places below capacity, that is
        # "never overbooked", and bookings of one slot need not wait for each other.
        Index("uq_callback_promises_slot_place", "slot_id", "place", unique=True),
        Index("ix_callback_promises_window", "window_start"),
        Index("ix_callback_promises_caller_state", "caller_id", "state"),
        Index("ix_callback_promises_due", "state", "planned_dial_at"),
    )


class CallbackPlace(Base):
    """One place of a slot, as a row a booking can lock: free while `promise_id` is None.

    A slot has a row for each place 0 … capacity − 1 (rows above a capacity that dropped stay and
    are not offered). A booking claims a free row with `FOR UPDATE SKIP LOCKED` and writes its
    promise id into it; callbacks/places.py explains the claim.
    """

    __tablename__ = "callback_places"

    slot_id: Mapped[int] = mapped_column(ForeignKey("callback_slots.id", ondelete="CASCADE"), primary_key=True)
    place: Mapped[int] = mapped_column(primary_key=True)
    promise_id: Mapped[int | None] = mapped_column(ForeignKey("callback_promises.id", ondelete="SET NULL"), unique=True)


# Counted where it is read, so concurrent bookings never queue on one counter row of the slot.
CallbackSlot.booked = column_property(
    select(func.count())
    .where(CallbackPromise.slot_id == CallbackSlot.id, CallbackPromise.place.is_not(None))
    .correlate_except(CallbackPromise)
    .scalar_subquery()
)

# The open states as inline constants, the same test as the partial index above: a list of bind
# parameters is re-rendered on every execution, and the generic plan of a prepared statement
# (psycopg prepares a statement run five times) could not use the partial index.
IS_OPEN_PROMISE = CallbackPromise.state.in_([literal_column(f"'{state.value}'") for state in OPEN_PROMISE_STATES])


class PromiseTransition(Base):
    __tablename__ = "promise_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    promise_id: Mapped[int] = mapped_column(ForeignKey("callback_promises.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime]
    cause: Mapped[str] = mapped_column(String(200))

    promise: Mapped[CallbackPromise] = relationship(back_populates="transitions")


class AttemptState(enum.StrEnum):
    INTENDED = "intended"  # recorded before dialling, so a crash can be reconciled
    AGENT_RINGING = "agent_ringing"
    CALLER_RINGING = "caller_ringing"
    CONNECTED = "connected"
    COMPLETED = "completed"
    VOICEMAIL = "voicemail"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    NO_AGENT = "no_agent"
    FAILED = "failed"


class CallbackAttempt(Base):
    """One try at keeping a promise: the agent leg, then the caller leg."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    promise_id: Mapped[int] = mapped_column(ForeignKey("callback_promises.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()  # 1, 2, 3…
    state: Mapped[str] = mapped_column(String(16), default=AttemptState.INTENDED.value)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    agent_call_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    caller_call_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    answered_by: Mapped[str | None] = mapped_column(String(24))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(200))
    # Agents who passed or did not answer in this attempt: the next agent leg skips them.
    agents_tried: Mapped[list[int]] = mapped_column(JSON, default=list)
    # When the attempt last changed stage: recovery after a crash measures staleness from here.
    stage_at: Mapped[datetime | None]

    promise: Mapped[CallbackPromise] = relationship(back_populates="attempt_records")

    __table_args__ = (
        UniqueConstraint("promise_id", "number"),
        CheckConstraint(_in("state", AttemptState), name="state"),
    )
