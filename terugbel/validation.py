"""Refusals of a change that a form or an API request asked for, and the small parsers they use.

A service that validates input raises `FieldErrors` (every field that is wrong, each with what is
wrong with it) or `ChangeRefused` (one field), before it writes anything; `NotFound` when the thing
to change does not exist or is not the asker's. The views map them to the form's fields or a 4xx.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

# Every id is an `integer` column, which holds 32 bits on PostgreSQL: a larger id names nothing,
# and handing it to the database would fail instead of finding nothing.
ID_MIN = 1
ID_MAX = 2**31 - 1


class ChangeRefused(ValueError):
    """The change is not allowed; `field` names the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class FieldErrors(ValueError):
    """The change is refused; `errors` maps each form field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotFound(LookupError):
    """The thing to change does not exist, or is not the asker's (told apart by nobody)."""


def whole_number(raw: str | None, low: int, high: int) -> int | None:
    """The whole number in `raw` when it lies in [low, high], else None."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


def clock_time(raw: str) -> time | None:
    """A time of day like 08:30, else None."""
    try:
        return time.fromisoformat(raw.strip())
    except ValueError:
        return None


def local_moment(raw: str, zone: str) -> datetime | None:
    """A date and time like 2026-11-23T08:00, read in `zone` unless it names its own offset."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))
