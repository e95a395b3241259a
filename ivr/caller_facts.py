"""What the voice menu knows of a caller before asking anything: who they are, their open promise,
the incidents that match them, the menu's intents, and their time zone.

One round trip loads the caller, their open promise and the configuration's stamp: every voice
webhook needs all three.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import phonenumbers.timezone
from sqlalchemy import String, and_, bindparam, select
from sqlalchemy.orm import Session

from callbacks.models import IS_OPEN_PROMISE, CallbackPromise
from ivr.flow_types import CallFacts, IncidentNotice, IntentOption, PromiseNotice
from ivr.models import CallSession
from routing.config import STAMP_TOKEN, CenterConfig, center_config, center_config_at
from routing.models import Caller
from routing.route import ROUTED_CALLER_COLUMNS, RoutedCaller, active_incidents_for
from terugbel.db import plain_rows
from terugbel.phone import try_e164
from terugbel.runtime import Runtime


def facts_for(session: Session, runtime: Runtime, call: CallSession, now: datetime) -> CallFacts:
    """What the menu knows of the caller on this call."""
    return caller_and_facts(session, runtime, call.number, now)[1]


class OpenPromise(NamedTuple):
    """The caller's open callback promise as the menu tells it."""

    id: int
    queue_id: int
    window_start: datetime
    window_end: datetime
    state: str


# The caller, their open promise and the configuration's stamp in one round trip: every voice webhook
# needs all three. A one-row derived table holds the number, so an unknown caller still gets a row.
# Plain columns, not entities: the ORM's loading would cost more than the query.
_DIALLED = select(bindparam("number", type_=String(20)).label("number")).subquery("dialled")
_CALLER_PROMISE_STAMP = (
    select(
        STAMP_TOKEN.label("stamp"),
        *ROUTED_CALLER_COLUMNS,
        CallbackPromise.id.label("promise_id"),
        CallbackPromise.queue_id,
        CallbackPromise.window_start,
        CallbackPromise.window_end,
        CallbackPromise.state,
    )
    .select_from(_DIALLED)
    .outerjoin(Caller, Caller.number == _DIALLED.c.number)
    .outerjoin(
        CallbackPromise,
        and_(
            CallbackPromise.number == _DIALLED.c.number,
            IS_OPEN_PROMISE,
        ),
    )
)


def caller_and_facts(
    session: Session, runtime: Runtime, number: str | None, now: datetime
) -> tuple[RoutedCaller | None, CallFacts]:
    """The known caller with this number (E.164, None when withheld) and what the menu knows of them."""
    if number is None:
        return None, _facts(session, runtime, None, None, None, now)
    # One row always: the derived table's, and at most one open promise per number (a unique index).
    row = plain_rows(session, _CALLER_PROMISE_STAMP, {"number": number}).one()
    center_config_at(session, row.stamp)  # held by the session for the incidents and intents below
    caller = RoutedCaller.of(row)
    promise = (
        OpenPromise(row.promise_id, row.queue_id, row.window_start, row.window_end, row.state)
        if row.promise_id is not None
        else None
    )
    return caller, _facts(session, runtime, number, caller, promise, now)


def _facts(
    session: Session,
    runtime: Runtime,
    number: str | None,
    caller: RoutedCaller | None,
    promise: OpenPromise | None,
    now: datetime,
) -> CallFacts:
    incidents = active_incidents_for(session, caller if caller is not None else number, now)
    return CallFacts(
        number=number,
        caller_name=caller.name if caller else None,
        zone=caller_zone(runtime, number),
        region=runtime.settings.default_region,
        incidents=tuple(
            IncidentNotice(i.id, {"nl": i.message_nl, "en": i.message_en}, i.expected_fix_at) for i in incidents[:2]
        ),
        promise=(
            PromiseNotice(promise.id, promise.queue_id, promise.window_start, promise.window_end)
            if promise is not None and promise.state == "booked"
            else None
        ),
        intents=_menu_options(center_config(session)),
        overflow_number=runtime.settings.overflow_number,
    )


_menu_options_of: tuple[CenterConfig, tuple[IntentOption, ...]] | None = None


def _menu_options(config: CenterConfig) -> tuple[IntentOption, ...]:
    """The menu's intents as the flow offers them, built once per kept configuration."""
    global _menu_options_of
    kept = _menu_options_of
    if kept is not None and kept[0] is config:
        return kept[1]
    options = tuple(
        IntentOption(
            name=i.name,
            labels={"nl": i.label_nl, "en": i.label_en},
            key=i.key,
            phrases={"nl": tuple(i.phrases_nl or ()), "en": tuple(i.phrases_en or ())},
        )
        for i in config.menu_intents
    )
    _menu_options_of = (config, options)
    return options


def caller_zone(runtime: Runtime, number: str | None) -> str:
    """The caller's time zone from their number when it has one offset (+44: London), else ours."""
    default = runtime.settings.timezone
    e164 = try_e164(number, runtime.settings.default_region) if number else None
    return _zone_of(e164, default) if e164 else default


# Bounded: every distinct calling number is a key, and a web process lives for weeks.
@lru_cache(maxsize=4096)
def _zone_of(number: str, default: str) -> str:
    try:
        names = phonenumbers.timezone.time_zones_for_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return default
    zones = [name for name in names if "/" in name and not name.startswith("Etc/")]
    if not zones or default in zones:
        return default
    try:
        # Several names (London, Jersey, Guernsey) are one zone for us if they keep the same clock.
        clocks = {
            tuple(datetime(2026, month, 1, 12, tzinfo=ZoneInfo(z)).utcoffset() for month in (1, 7)) for z in zones
        }
    except (ZoneInfoNotFoundError, ValueError):
        return default
    return zones[-1] if len(clocks) == 1 else default
