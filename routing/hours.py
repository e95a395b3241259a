"""Opening hours per weekday in the queue's zone, public holidays and custom closed days.

Pure functions: the service loads `QueueHours` and the custom holiday dates from the database.
Public holidays come from the `holidays` package for the queue's `holiday_country`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays as public_holidays

from terugbel.clock import ensure_utc

SEARCH_DAYS = 21  # next_opening looks this far ahead (longer than any Christmas closure)


@dataclass(frozen=True)
class OpeningPeriod:
    weekday: int  # 0 = Monday
    opens: time
    closes: time


@dataclass(frozen=True)
class QueueHours:
    zone: str
    periods: tuple[OpeningPeriod, ...]
    holiday_country: str | None = "NL"

    @classmethod
    def of(cls, zone: str, periods: Iterable[OpeningPeriod], holiday_country: str | None = "NL") -> QueueHours:
        ordered = sorted(periods, key=lambda p: (p.weekday, p.opens))
        return cls(zone=zone, periods=tuple(ordered), holiday_country=holiday_country)


@cache
def _country_holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(public_holidays.country_holidays(country, years=year))


def is_holiday(queue_hours: QueueHours, custom_holidays: Collection[date], day: date) -> bool:
    """True when `day` (a local date) is a public holiday of the queue's country or a custom one."""
    if day in custom_holidays:
        return True
    country = queue_hours.holiday_country
    return bool(country) and day in _country_holidays(country, day.year)


def is_open(queue_hours: QueueHours, custom_holidays: Collection[date], moment: datetime) -> bool:
    """Whether the queue takes calls at `moment` (aware), judged in the queue's own zone."""
    local = ensure_utc(moment).astimezone(ZoneInfo(queue_hours.zone))
    if is_holiday(queue_hours, custom_holidays, local.date()):
        return False
    clock = local.time().replace(tzinfo=None)
    return any(p.weekday == local.weekday() and p.opens <= clock < p.closes for p in queue_hours.periods)


def next_opening(queue_hours: QueueHours, custom_holidays: Collection[date], moment: datetime) -> datetime | None:
    """The first moment at or after `moment` when the queue is open (UTC), or None within three weeks."""
    moment = ensure_utc(moment)
    if is_open(queue_hours, custom_holidays, moment):
        return moment
    zone = ZoneInfo(queue_hours.zone)
    today = moment.astimezone(zone).date()
    for offset in range(SEARCH_DAYS):
        day = today + timedelta(days=offset)
        if is_holiday(queue_hours, custom_holidays, day):
            continue
        for period in queue_hours.periods:
            if period.weekday != day.weekday():
                continue
            opening = datetime.combine(day, period.opens, tzinfo=zone).astimezone(ensure_utc(moment).tzinfo)
            if opening >= moment:
                return opening
    return None


def closing_time(queue_hours: QueueHours, custom_holidays: Collection[date], moment: datetime) -> datetime | None:
    """When the period the queue is open in at `moment` ends (UTC), or None when it is closed."""
    moment = ensure_utc(moment)
    local = moment.astimezone(ZoneInfo(queue_hours.zone))
    if is_holiday(queue_hours, custom_holidays, local.date()):
        return None
    clock = local.time().replace(tzinfo=None)
    for period in queue_hours.periods:
        if period.weekday == local.weekday() and period.opens <= clock < period.closes:
            closes = datetime.combine(local.date(), period.closes, tzinfo=ZoneInfo(queue_hours.zone))
            return ensure_utc(closes)
    return None
