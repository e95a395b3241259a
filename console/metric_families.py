"""What `/metrics` says, read at scrape time from the database and Redis by one prometheus_client Collector.

The collector holds nothing between scrapes: gauges are read from the database, counters and
histograms from the Redis hashes every process adds to (terugbel/tallies.py, and the webhook
latency of console/prometheus.py). So any gunicorn process answers a scrape with the same numbers
and prometheus_client needs no multiprocess mode.

No query reads a table that grows with history beyond an index range: open promises and callbacks
due through `ix_callback_promises_due` (state, planned_dial_at), the last day's windows through
`ix_callback_promises_window`, callers waiting through the partial `ix_queue_entries_waiting_since`.
Queues and agents are read whole: they are configuration and staff, not history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from rq import Queue as RqQueue
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from callbacks.models import IS_OPEN_PROMISE, OPEN_PROMISE_STATES, CallbackPromise, PromiseState
from routing.models import Agent, AgentState, Queue, QueueEntry, QueueEntryState
from terugbel.redis_conn import ALL_QUEUES
from terugbel.tallies import (
    DIAL_OUTCOMES,
    FIRST_DIAL_DELAY,
    FIRST_DIAL_DELAY_BUCKETS,
    LATE_CALLBACKS,
    SMS_ERRORS,
    TWILIO_API_ERRORS,
    TWILIO_RATE_LIMITED,
    Tally,
    read_counts,
    read_tallies,
)

PREFIX = "terugbel_"
# Per-bucket counts (not cumulative: three commands per webhook instead of eleven), summed on render.
LATENCY_KEY = "terugbel:metrics:webhook_latency:buckets"
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DUE_WITHIN = {"15m": timedelta(minutes=15), "60m": timedelta(minutes=60)}
KEPT_PERIOD = timedelta(hours=24)
DIAL_OUTCOME_NAMES = ("answered", "voicemail", "no_answer", "busy", "failed")
# As console/metrics.py counts them.
NOT_DUE_STATES = (PromiseState.CANCELLED.value, PromiseState.MOVED.value, PromiseState.RESOLVED.value)
RESOLVED_STATE = PromiseState.RESOLVED.value
# Inline constants, not bind parameters: the partial index's predicate must match the query's text.
_WAITING: ColumnElement[str] = literal_column(f"'{QueueEntryState.WAITING.value}'")
_BOOKED: ColumnElement[str] = literal_column(f"'{PromiseState.BOOKED.value}'")


class TerugbelCollector(Collector):
    """Every family of one scrape, read when `collect` runs."""

    def __init__(self, session: Session, connection: redis.Redis, now: datetime) -> None:
        self._session = session
        self._redis = connection
        self._now = now

    def collect(self) -> Iterator[Metric]:
        tallies = read_tallies(self._redis)
        yield from _tallied_families(tallies)
        yield _latency_family(self._redis)
        yield from _promise_families(self._session, self._now)
        yield from _waiting_families(self._session, self._now)
        yield _agent_family(self._session)
        yield _job_family(self._redis)
        generated = GaugeMetricFamily(f"{PREFIX}metrics_generated_at_seconds", "When these numbers were read.")
        generated.add_metric([], round(self._now.timestamp()))
        yield generated


def _tallied_families(tallies: Sequence[Tally]) -> Iterator[Metric]:
    yield _counter(
        tallies, DIAL_OUTCOMES, "Callback calls to callers by how they ended.", "outcome", DIAL_OUTCOME_NAMES
    )
    yield _counter(tallies, SMS_ERRORS, "Texts not sent, by why: retryable, refused, unexpected, given_up.", "reason")
    yield _counter(tallies, TWILIO_API_ERRORS, "Twilio REST API error answers other than 429, by status.", "status")
    yield _counter(tallies, TWILIO_RATE_LIMITED, "Requests Twilio's REST API refused with 429 (rate limited).")
    yield _counter(tallies, LATE_CALLBACKS, "Callbacks first dialled after their window ended.")
    yield _histogram(
        tallies,
        FIRST_DIAL_DELAY,
        "Seconds from the opening of a callback's window to its first dial.",
        FIRST_DIAL_DELAY_BUCKETS,
    )


def _counter(
    tallies: Sequence[Tally], name: str, help_text: str, label: str | None = None, known: Iterable[str] = ()
) -> CounterMetricFamily:
    family = CounterMetricFamily(f"{PREFIX}{name}", help_text, labels=[label] if label else [])
    values: dict[str, float] = dict.fromkeys(known, 0.0) if label else {"": 0.0}
    for item in tallies:
        if item.name == name:
            key = dict(item.labels).get(label, "") if label else ""
            values[key] = values.get(key, 0.0) + item.value
    for key, value in sorted(values.items()):
        family.add_metric([key] if label else [], value)
    return family


def _histogram(tallies: Sequence[Tally], name: str, help_text: str, bounds: Sequence[float]) -> HistogramMetricFamily:
    per_bucket = {dict(item.labels)["le"]: item.value for item in tallies if item.name == f"{name}_bucket"}
    count = sum(item.value for item in tallies if item.name == f"{name}_count")
    total = sum(item.value for item in tallies if item.name == f"{name}_sum")
    family = HistogramMetricFamily(f"{PREFIX}{name}", help_text)
    family.add_metric([], _cumulative(per_bucket, bounds, count), total)
    return family


def _cumulative(per_bucket: dict[str, float], bounds: Sequence[float], count: float) -> list[tuple[str, float]]:
    buckets, running = [], 0.0
    for bound in bounds:
        running += per_bucket.get(f"{bound:g}", 0.0)
        buckets.append((f"{bound:g}", running))
    buckets.append(("+Inf", count))
    return buckets


def _latency_family(connection: redis.Redis) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        f"{PREFIX}webhook_request_duration_seconds", "Time to answer a Twilio webhook.", labels=["endpoint"]
    )
    per_endpoint: dict[str, dict[str, float]] = defaultdict(dict)
    for field, value in read_counts(connection, LATENCY_KEY).items():
        endpoint, _, part = field.partition("|")
        per_endpoint[endpoint][part] = value
    for endpoint, parts in sorted(per_endpoint.items()):
        count = parts.get("count", 0.0)
        family.add_metric([endpoint], _cumulative(parts, LATENCY_BUCKETS, count), parts.get("sum", 0.0))
    return family


def _promise_families(session: Session, now: datetime) -> Iterator[Metric]:
    open_counts = dict(
        session.execute(
            select(CallbackPromise.state, func.count()).where(IS_OPEN_PROMISE).group_by(CallbackPromise.state)
        ).all()
    )
    promises = GaugeMetricFamily(
        f"{PREFIX}promises_open", "Callback promises still to be kept, by state.", labels=["state"]
    )
    for state in OPEN_PROMISE_STATES:
        promises.add_metric([state.value], open_counts.get(state.value, 0))
    yield promises

    due = GaugeMetricFamily(
        f"{PREFIX}callbacks_due",
        "Booked callbacks planned to be dialled within the next 15 or 60 minutes (or overdue).",
        labels=["within"],
    )
    for label, ahead in DUE_WITHIN.items():
        count = session.scalar(
            select(func.count()).where(CallbackPromise.state == _BOOKED, CallbackPromise.planned_dial_at <= now + ahead)
        )
        due.add_metric([label], int(count or 0))
    yield due
    yield from _kept_on_time_families(session, now)


def _kept_on_time_families(session: Session, now: datetime) -> Iterator[Metric]:
    """Of the windows that opened in the last 24 hours and have ended: how many were dialled inside the window."""
    rows = session.execute(
        select(CallbackPromise.window_start, CallbackPromise.window_end, CallbackPromise.first_dial_at).where(
            CallbackPromise.window_start > now - KEPT_PERIOD,
            CallbackPromise.window_start <= now,
            CallbackPromise.window_end <= now,
            CallbackPromise.state.not_in(NOT_DUE_STATES),
        )
    ).all()
    kept = sum(1 for start, end, dialled in rows if dialled is not None and start <= dialled <= end)
    due = GaugeMetricFamily(
        f"{PREFIX}promises_due_last_day", "Promises whose window opened in the last 24 hours and has ended."
    )
    due.add_metric([], len(rows))
    kept_family = GaugeMetricFamily(
        f"{PREFIX}promises_kept_on_time_last_day", "Of those, the promises first dialled inside their window."
    )
    kept_family.add_metric([], kept)
    ratio = GaugeMetricFamily(
        f"{PREFIX}promises_kept_on_time_ratio",
        "Share of the last 24 hours' ended windows kept on time (absent while there are none).",
    )
    if rows:
        ratio.add_metric([], kept / len(rows))
    yield from (due, kept_family, ratio)
    resolved = session.scalar(
        select(func.count()).where(
            CallbackPromise.window_start > now - KEPT_PERIOD,
            CallbackPromise.window_start <= now,
            CallbackPromise.state == RESOLVED_STATE,
        )
    )
    otherwise = GaugeMetricFamily(
        f"{PREFIX}promises_resolved_by_other_contact_last_day",
        "Promises whose window opened in the last 24 hours, closed because the caller reached an agent another way.",
    )
    otherwise.add_metric([], int(resolved or 0))
    yield otherwise


def _waiting_families(session: Session, now: datetime) -> Iterator[Metric]:
    names = dict(session.execute(select(Queue.id, Queue.name)).all())
    waiting = {
        queue_id: (count, oldest)
        for queue_id, count, oldest in session.execute(
            select(QueueEntry.queue_id, func.count(), func.min(QueueEntry.enqueued_at))
            .where(QueueEntry.state == _WAITING)
            .group_by(QueueEntry.queue_id)
        ).all()
    }
    callers = GaugeMetricFamily(f"{PREFIX}callers_waiting", "Callers waiting in a queue now.", labels=["queue"])
    longest = GaugeMetricFamily(
        f"{PREFIX}callers_longest_wait_seconds", "How long the caller waiting longest has waited.", labels=["queue"]
    )
    for queue_id, name in sorted(names.items(), key=lambda item: item[1]):
        count, oldest = waiting.get(queue_id, (0, None))
        callers.add_metric([name], count)
        longest.add_metric([name], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
    yield from (callers, longest)


def _agent_family(session: Session) -> GaugeMetricFamily:
    counts = dict(
        session.execute(select(Agent.state, func.count()).where(Agent.active.is_(True)).group_by(Agent.state)).all()
    )
    family = GaugeMetricFamily(f"{PREFIX}agents", "Active agents by state.", labels=["state"])
    for state in AgentState:
        family.add_metric([state.value], counts.get(state.value, 0))
    return family


def _job_family(connection: redis.Redis) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}jobs", "RQ jobs by queue and status.", labels=["queue", "status"])
    for name in ALL_QUEUES:
        queue = RqQueue(name, connection=connection)
        family.add_metric([name, "queued"], queue.count)
        family.add_metric([name, "scheduled"], queue.scheduled_job_registry.count)
        family.add_metric([name, "started"], queue.started_job_registry.count)
        family.add_metric([name, "failed"], queue.failed_job_registry.count)
    return family
