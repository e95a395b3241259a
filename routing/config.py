"""The contact center's slowly changing configuration, read once per change and kept per process.

Queues, opening hours, closed days, intents, incidents and the live rule set change when a
supervisor edits them, a few times a day; routing and the phone menu read them on every call. Every
write to them sets a new token in `configuration_stamp` (routing/models.py), in the same
transaction, so a process reads one short row per call and loads the rest only when it changed.
Without a stamp row (nothing was configured through the ORM yet) nothing is kept.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from routing.hours import OpeningPeriod, QueueHours, is_open
from routing.models import (
    SESSION_CONFIG_KEY,
    BusinessHours,
    ConfigurationStamp,
    Holiday,
    Incident,
    IncidentState,
    Intent,
    Queue,
    RuleSetVersion,
)
from routing.rule_parsing import parse_rule_set
from routing.rules import InvalidRuleSet, RuleSet
from terugbel.db import database_key, plain_rows
from terugbel.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class QueueConfig:
    id: int
    name: str
    label: str
    skill: str
    timezone: str
    overflow_queue_id: int | None
    wait_threshold_seconds: int
    default_handle_seconds: int
    slot_minutes: int  # callback slots (callbacks/offers.py)
    callback_lead_minutes: int
    hours: QueueHours
    closed_days: frozenset[date]  # the queue's own custom closed days and those of every queue

    def is_open(self, now: datetime) -> bool:
        return is_open(self.hours, self.closed_days, now)


@dataclass(frozen=True)
class IntentConfig:
    id: int
    name: str
    label_nl: str
    label_en: str
    queue_id: int
    key: str | None
    phrases_nl: tuple[str, ...]
    phrases_en: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class IncidentConfig:
    """An active incident as routing and the phone menu use it."""

    id: int
    title: str
    message_nl: str
    message_en: str
    match_all: bool
    match_prefixes: tuple[str, ...]
    match_products: frozenset[str]
    expected_fix_at: datetime | None
    started_at: datetime

    def matches(self, number: str | None, products: Iterable[str]) -> bool:
        """Everyone, a number prefix, or one of the caller's products."""
        by_prefix = bool(number) and any(number.startswith(p) for p in self.match_prefixes)  # type: ignore[union-attr]
        return self.match_all or by_prefix or not self.match_products.isdisjoint(products)


@dataclass(frozen=True)
class CenterConfig:
    token: str | None  # the stamp it was loaded under; None: not kept
    queues: tuple[QueueConfig, ...]  # by id
    intents: tuple[IntentConfig, ...]  # by id, inactive ones included
    incidents: tuple[IncidentConfig, ...]  # active ones, newest first
    rules: RuleSet

    @cached_property
    def intents_by_id(self) -> dict[int, IntentConfig]:
        return {i.id: i for i in self.intents}

    @cached_property
    def queues_by_id(self) -> dict[int, QueueConfig]:
        return {q.id: q for q in self.queues}

    @cached_property
    def queue_names(self) -> dict[int, str]:
        return {q.id: q.name for q in self.queues}

    @cached_property
    def menu_intents(self) -> tuple[IntentConfig, ...]:
        """The active intents in menu order: by key, those without one last, then by name."""
        active = (i for i in self.intents if i.active)
        return tuple(sorted(active, key=lambda i: (i.key is None, i.key or "", i.name)))

    def intent_named(self, name: str) -> IntentConfig | None:
        return next((i for i in self.intents if i.name == name), None)

    def active_incidents(self, now: datetime) -> list[IncidentConfig]:
        return [i for i in self.incidents if i.started_at <= now]


class _KeptConfigs:
    """The configurations this process loaded, by (database, stamp token): the few used last.

    Bounded: a token names one state of the configuration, so each change adds an entry; the least
    recently used go once there are `size`. Thread-safe: web processes serve from threads.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str], CenterConfig] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, database: str, token: str) -> CenterConfig | None:
        with self._lock:
            config = self._entries.get((database, token))
            if config is not None:
                self._entries.move_to_end((database, token))
            return config

    def put(self, database: str, token: str, config: CenterConfig) -> None:
        with self._lock:
            self._entries[database, token] = config
            self._entries.move_to_end((database, token))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_kept = _KeptConfigs(size=8)
_TOKEN = select(ConfigurationStamp.token).where(ConfigurationStamp.id == 1)
# For a hot query to read the stamp along with its own rows, then hand it to center_config_at.
STAMP_TOKEN = _TOKEN.scalar_subquery()


def center_config(session: Session) -> CenterConfig:
    """The configuration as this transaction sees it: the kept copy while the stamp is unchanged.

    Read once per transaction (the session holds it until it changes the configuration itself).
    """
    held = held_config(session)
    if held is not None:
        return held
    return center_config_at(session, plain_rows(session, _TOKEN).scalar())


def center_config_at(session: Session, token: str | None) -> CenterConfig:
    """center_config for a stamp token this transaction already read (with STAMP_TOKEN)."""
    held = held_config(session)
    if held is not None:
        return held
    config = _config_for(session, token)
    session.info[SESSION_CONFIG_KEY] = (session.get_transaction(), config)
    return config


def held_config(session: Session) -> CenterConfig | None:
    """The configuration this transaction has read already, if it has."""
    held = session.info.get(SESSION_CONFIG_KEY)
    return held[1] if held is not None and held[0] is session.get_transaction() else None


def _config_for(session: Session, token: str | None) -> CenterConfig:
    if token is None:
        return load_center_config(session, None)
    database = database_key(session)
    kept = _kept.get(database, token)
    if kept is None:
        # Loaded in the same transaction as the token, after it: the copy is at least as new as the key.
        kept = load_center_config(session, token)
        _kept.put(database, token, kept)
    return kept


def load_center_config(session: Session, token: str | None = None) -> CenterConfig:
    """Read the whole configuration from the database (kept under `token` by the caller, if any)."""
    periods: dict[int, list[OpeningPeriod]] = {}
    for row in session.execute(
        select(BusinessHours.queue_id, BusinessHours.weekday, BusinessHours.opens, BusinessHours.closes)
    ):
        periods.setdefault(row.queue_id, []).append(OpeningPeriod(row.weekday, row.opens, row.closes))
    holidays = session.execute(select(Holiday.queue_id, Holiday.day)).all()
    queues = tuple(
        QueueConfig(
            id=q.id,
            name=q.name,
            label=q.label,
            skill=q.skill,
            timezone=q.timezone,
            overflow_queue_id=q.overflow_queue_id,
            wait_threshold_seconds=q.wait_threshold_seconds,
            default_handle_seconds=q.default_handle_seconds,
            slot_minutes=q.slot_minutes,
            callback_lead_minutes=q.callback_lead_minutes,
            hours=QueueHours.of(q.timezone, periods.get(q.id, []), q.holiday_country),
            closed_days=frozenset(day for queue_id, day in holidays if queue_id in (None, q.id)),
        )
        for q in session.scalars(select(Queue).order_by(Queue.id))
    )
    intents = tuple(
        IntentConfig(
            id=i.id,
            name=i.name,
            label_nl=i.label_nl,
            label_en=i.label_en,
            queue_id=i.queue_id,
            key=i.key,
            phrases_nl=tuple(i.phrases_nl or ()),
            phrases_en=tuple(i.phrases_en or ()),
            active=i.active,
        )
        for i in session.scalars(select(Intent).order_by(Intent.id))
    )
    incidents = tuple(
        IncidentConfig(
            id=i.id,
            title=i.title,
            message_nl=i.message_nl,
            message_en=i.message_en,
            match_all=i.match_all,
            match_prefixes=tuple(i.match_prefixes or ()),
            match_products=frozenset(i.match_products or ()),
            expected_fix_at=i.expected_fix_at,
            started_at=i.started_at,
        )
        for i in session.scalars(
            select(Incident)
            .where(Incident.state == IncidentState.ACTIVE.value)
            .order_by(Incident.started_at.desc(), Incident.id.desc())
        )
    )
    return CenterConfig(token=token, queues=queues, intents=intents, incidents=incidents, rules=_live_rules(session))


def _live_rules(session: Session) -> RuleSet:
    """The live rules (the highest version), parsed; an empty set before the first publish."""
    row = session.execute(
        select(RuleSetVersion.version, cast(RuleSetVersion.rules, Text))
        .order_by(RuleSetVersion.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return RuleSet()
    try:
        return parse_rule_set(json.loads(row[1]), version=row[0])
    except (InvalidRuleSet, ValueError) as exc:
        # Only validated sets are published; a hand-edited row must still never fail a call.
        log.error("live rule set does not parse; routing without rules", version=row[0], error=str(exc))
        return RuleSet(version=row[0])
