"""Counts of what happened (a dial's outcome, a refused text, an error from Twilio), kept in Redis.

An event is counted where it happens, by `tally` or (once its transaction has committed)
`tally_after_commit`, into one Redis hash that every web and worker process adds to. `/metrics`
reads that hash at scrape time (console/metric_families.py), so the counters are the same whatever
process is scraped and no scrape reads history. A field is `<name>|<label>=<value>,...`; label
values are our own words (outcomes, HTTP statuses), never personal data.

A tally is a metric, never the work itself: while Redis is down it is lost with a warning and the
call, text or job carries on. Counters start again after Redis loses its data, which Prometheus'
`rate()` and `increase()` read as a counter reset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import redis
from sqlalchemy.orm import Session

from terugbel.logs import get_logger
from terugbel.unit_of_work import after_commit

log = get_logger(__name__)

TALLIES_KEY = "terugbel:metrics:tallies"

# The counters and histograms that are tallied (the collector names them terugbel_<name>).
DIAL_OUTCOMES = "dial_outcomes"  # outcome: answered, voicemail, no_answer, busy, failed
SMS_ERRORS = "sms_errors"  # reason: retryable, refused, unexpected, given_up
TWILIO_API_ERRORS = "twilio_api_errors"  # status: the HTTP status of Twilio's error answer, 429 apart
TWILIO_RATE_LIMITED = "twilio_rate_limited"  # Twilio answered 429: slow down, nothing is broken
FIRST_DIAL_DELAY = "callback_first_dial_delay_seconds"  # histogram
LATE_CALLBACKS = "callbacks_late"

FIRST_DIAL_DELAY_BUCKETS = (0.0, 60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)  # seconds after the window opened


@dataclass(frozen=True)
class Tally:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


def tally(connection: redis.Redis, name: str, labels: Mapping[str, str] | None = None, amount: int = 1) -> None:
    """Add `amount` to the counter `name` with `labels`."""
    _write(connection, [(_field(name, labels), amount)])


def observe(
    connection: redis.Redis,
    name: str,
    value: float,
    buckets: Iterable[float],
    labels: Mapping[str, str] | None = None,
) -> None:
    """Add one `value` to the histogram `name`: its own bucket (not cumulative), the count and the sum."""
    bound = next((f"{edge:g}" for edge in buckets if value <= edge), "+Inf")
    own = dict(labels or {})
    _write(
        connection,
        [
            (_field(f"{name}_bucket", {**own, "le": bound}), 1),
            (_field(f"{name}_count", own), 1),
            (_field(f"{name}_sum", own), float(value)),
        ],
    )


def count_twilio_api_error(connection: redis.Redis, status: int) -> None:
    """Count one error answer of Twilio's REST API; a 429 (rate limited) is counted apart."""
    if status == 429:
        tally(connection, TWILIO_RATE_LIMITED)
    else:
        tally(connection, TWILIO_API_ERRORS, {"status": str(status)})


def tally_after_commit(session: Session, name: str, labels: Mapping[str, str] | None = None) -> None:
    """Count the event once the session's transaction has committed (a rolled-back one counts nothing)."""
    fixed = dict(labels or {})
    after_commit(session).add(lambda runtime: tally(runtime.redis, name, fixed))


def observe_after_commit(session: Session, name: str, value: float, buckets: Iterable[float]) -> None:
    """Add `value` to the histogram `name` once the session's transaction has committed."""
    edges = tuple(buckets)
    after_commit(session).add(lambda runtime: observe(runtime.redis, name, value, edges))


def read_tallies(connection: redis.Redis) -> list[Tally]:
    """Every tally in the hash, sorted by name and labels."""
    tallies = [_parse(field, value) for field, value in read_counts(connection, TALLIES_KEY).items()]
    return sorted(tallies, key=lambda t: (t.name, t.labels))


def read_counts(connection: redis.Redis, key: str) -> dict[str, float]:
    """A hash of counts as numbers by field name."""
    raw: dict[bytes | str, bytes | str] = connection.hgetall(key)
    return {_text(field): float(value) for field, value in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _field(name: str, labels: Mapping[str, str] | None) -> str:
    pairs = ",".join(f"{key}={value}" for key, value in sorted((labels or {}).items()))
    return f"{name}|{pairs}"


def _parse(field: str, value: float) -> Tally:
    name, _, pairs = field.partition("|")
    labels = tuple((key, label) for key, _, label in (pair.partition("=") for pair in pairs.split(",") if pair))
    return Tally(name, labels, value)


def _write(connection: redis.Redis, increments: list[tuple[str, float]]) -> None:
    try:
        pipe = connection.pipeline(transaction=False)
        for field, amount in increments:
            if isinstance(amount, float):  # a histogram's sum; counts stay integers
                pipe.hincrbyfloat(TALLIES_KEY, field, amount)
            else:
                pipe.hincrby(TALLIES_KEY, field, amount)
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("metric not counted", metric=increments[0][0].partition("|")[0], error=type(exc).__name__)
