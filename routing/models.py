"""Persistence for callers, contacts, intents, incidents, queues, agents, hours and routing rules."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime, time
from itertools import chain
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, relationship

from terugbel.db import Base


def _in(column: str, values: type[enum.Enum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Language(enum.StrEnum):
    NL = "nl"
    EN = "en"


class Caller(Base):
    __tablename__ = "callers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # E.164; unique index = lookup by number
    name: Mapped[str | None] = mapped_column(String(120))
    language: Mapped[str | None] = mapped_column(String(2))
    vip: Mapped[bool] = mapped_column(default=False)
    # Products the caller has (e.g. "internet", "tv"): incidents can match on them.
    products: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("language IS NULL OR language IN ('nl', 'en')", name="language"),)


class ContactChannel(enum.StrEnum):
    CALL = "call"
    CALLBACK = "callback"
    SMS = "sms"
    WEB = "web"


class ContactOutcome(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    AGENT = "agent"  # reached an agent
    CALLBACK_BOOKED = "callback_booked"
    INFORMED_BY_INCIDENT = "informed_by_incident"
    ANSWERED = "answered"  # the menu answered the question (e.g. kept or cancelled a promise)
    ABANDONED = "abandoned"
    FAILED = "failed"


class Contact(Base):
    """One contact of a caller with us: a call, a callback, an SMS exchange, a web request."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10))
    call_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("intents.id", ondelete="SET NULL"))
    transcript: Mapped[str | None] = mapped_column(Text)  # the caller's own words: personal data
    path: Mapped[list[str]] = mapped_column(JSON, default=list)  # menu steps in order
    outcome: Mapped[str] = mapped_column(String(24), default=ContactOutcome.IN_PROGRESS.value)
    resolved: Mapped[bool | None] = mapped_column()  # set by the agent: resolved / follow-up needed
    outcome_note: Mapped[str | None] = mapped_column(Text)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    priority: Mapped[int] = mapped_column(default=0)
    # The contact this one continues: a kept callback continues the call that booked it, and the
    # two count as one contact in first-contact resolution and the repeat rate.
    continues_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    routing_explanation: Mapped[str | None] = mapped_column(Text)
    questions_asked: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime]
    routed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    caller: Mapped[Caller | None] = relationship()

    __table_args__ = (
        CheckConstraint(_in("channel", ContactChannel), name="channel"),
        CheckConstraint(_in("outcome", ContactOutcome), name="outcome"),
        Index("ix_contacts_caller_started", "caller_id", "started_at"),
        # A queue's latest contacts handled by an agent: its average handle time (routing/handle_time.py).
        Index("ix_contacts_queue_outcome_ended", "queue_id", "outcome", "ended_at"),
    )


class Intent(Base):
    """What a caller can call about; supervisors edit these (name, queue, key, phrases per language)."""

    __tablename__ = "intents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    label_nl: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    key: Mapped[str | None] = mapped_column(String(1), unique=True)  # DTMF digit in the key menu
    phrases_nl: Mapped[list[str]] = mapped_column(JSON, default=list)
    phrases_en: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (CheckConstraint("key IS NULL OR key IN ('1','2','3','4','5','6','7','8')", name="key"),)


class IncidentState(enum.StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"


class Incident(Base):
    """A known problem said to matching callers before any question (docs/product-rules.md, rule 2)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    message_nl: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    match_all: Mapped[bool] = mapped_column(default=False)
    match_prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)  # E.164 prefixes
    match_products: Mapped[list[str]] = mapped_column(JSON, default=list)
    expected_fix_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(10), default=IncidentState.ACTIVE.value, index=True)
    started_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (CheckConstraint(_in("state", IncidentState), name="state"),)


class IncidentSubscription(Base):
    """A caller who asked for a text when the incident is fixed."""

    __tablename__ = "incident_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("incident_id", "number"),)


class Queue(Base):
    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)  # e.g. "technisch", "facturen"
    label: Mapped[str] = mapped_column(String(120))
    skill: Mapped[str] = mapped_column(String(60))  # agents with this skill serve the queue
    timezone: Mapped[str] = mapped_column(String(60), default="Europe/Amsterdam")
    holiday_country: Mapped[str | None] = mapped_column(String(2), default="NL")
    overflow_queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    wait_threshold_seconds: Mapped[int] = mapped_column(default=120)
    default_handle_seconds: Mapped[int] = mapped_column(default=360)
    # Callback capacity (callbacks/capacity.py): slot length, share of agent time for callbacks,
    # and the minimum time between booking and the start of the slot.
    slot_minutes: Mapped[int] = mapped_column(default=15)
    callback_share: Mapped[float] = mapped_column(default=0.30)
    callback_lead_minutes: Mapped[int] = mapped_column(default=10)

    __table_args__ = (
        CheckConstraint("callback_share > 0 AND callback_share <= 1", name="callback_share"),
        CheckConstraint("slot_minutes IN (5, 10, 15, 20, 30, 60)", name="slot_minutes"),
    )


class AgentState(enum.StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"  # held for one call or callback, not yet talking
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20))  # E.164: where the agent's calls ring
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(10), default=AgentState.AWAY.value)
    state_changed_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)  # False: left the company, kept for history
    language: Mapped[str] = mapped_column(String(2), default=Language.NL.value, server_default=Language.NL.value)

    shifts: Mapped[list[Shift]] = relationship(back_populates="agent", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint(_in("state", AgentState), name="state"),
        CheckConstraint(_in("language", Language), name="language"),
    )


class Shift(Base):
    __tablename__ = "shifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]

    agent: Mapped[Agent] = relationship(back_populates="shifts")

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="order"),
        Index("ix_shifts_window", "starts_at", "ends_at"),
    )


class BusinessHours(Base):
    """Opening hours of a queue for one weekday, in the queue's time zone."""

    __tablename__ = "business_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column()  # 0 = Monday
    opens: Mapped[time]
    closes: Mapped[time]

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("closes > opens", name="order"),
    )


class Holiday(Base):
    """A custom closed day (the country's public holidays come from the `holidays` package)."""

    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))  # None: all
    day: Mapped[date]
    name: Mapped[str] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("queue_id", "day"),)


class RuleSetVersion(Base):
    """One immutable version of the routing rule set; the live set is the highest version.

    Rolling back publishes a new version with an earlier version's rules, so history only grows.
    """

    __tablename__ = "rule_set_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(300))
    rolled_back_from: Mapped[int | None] = mapped_column()  # the version whose rules this restores


class QueueEntryState(enum.StrEnum):
    WAITING = "waiting"
    RESERVED = "reserved"  # an agent is being dialled for this caller
    CONNECTED = "connected"
    LEFT = "left"  # hung up, took a callback instead, or was moved


_WAITING_SQL = "state = 'waiting'"


class QueueEntry(Base):
    """A caller waiting in a queue; served by priority, then waiting time (not Twilio's FIFO)."""

    __tablename__ = "queue_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(40), unique=True)
    # Indexed: the handle time reads the entry that connected each contact.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    priority: Mapped[int] = mapped_column(default=0)
    preferred_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    preferred_until: Mapped[datetime | None]
    reserved_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), default=QueueEntryState.WAITING.value)
    enqueued_at: Mapped[datetime]
    left_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(_in("state", QueueEntryState), name="state"),
        Index("ix_queue_entries_waiting", "queue_id", "state", "priority", "enqueued_at"),
        # Only the callers waiting now: what /metrics counts without reading the queue's history.
        Index(
            "ix_queue_entries_waiting_since",
            "queue_id",
            "enqueued_at",
            sqlite_where=text(_WAITING_SQL),
            postgresql_where=text(_WAITING_SQL),
        ),
    )


# -- the configuration stamp -----------------------------------------------------------------------------------


class ConfigurationStamp(Base):
    """One row whose token changes with every write to the contact center's configuration.

    Processes keep a copy of the configuration (routing/config.py) for as long as the token they read
    is the one they loaded it with. A random token, not a counter: a database emptied and filled again
    (tests, a restore) can never show an old token again, so a stale copy is never mistaken for new.
    """

    __tablename__ = "configuration_stamp"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    token: Mapped[str] = mapped_column(String(32))


# What routing/config.py keeps per process: a write to any of these sets a new stamp.
CONFIGURATION_MODELS: tuple[type[Base], ...] = (Queue, BusinessHours, Holiday, Intent, Incident, RuleSetVersion)
_STAMP_ID = 1
# Where a session holds the configuration its transaction read (routing/config.py).
SESSION_CONFIG_KEY = "routing.center_config"


def restamp_configuration(session: Session) -> None:
    """Set a new token, in the session's transaction: it commits or rolls back with the change."""
    values = {"id": _STAMP_ID, "token": secrets.token_hex(16)}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ConfigurationStamp).values(values)
    upsert = statement.on_conflict_do_update(index_elements=["id"], set_={"token": statement.excluded.token})
    session.connection().execute(upsert)
    session.info.pop(SESSION_CONFIG_KEY, None)


@event.listens_for(Session, "before_flush")
def _restamp_on_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    if any(isinstance(obj, CONFIGURATION_MODELS) for obj in chain(session.new, session.dirty, session.deleted)):
        restamp_configuration(session)


@event.listens_for(Session, "do_orm_execute")
def _restamp_on_bulk_write(state: ORMExecuteState) -> None:
    # update(Queue)…, delete(Holiday)… through the session skip the flush: catch them here.
    if (state.is_update or state.is_delete or state.is_insert) and any(
        mapper.class_ in CONFIGURATION_MODELS for mapper in state.all_mappers
    ):
        restamp_configuration(state.session)
