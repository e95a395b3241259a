"""Dial jobs in Redis, kept in line with the promises in the database.

Each booked promise has one RQ job on the `dial` queue, scheduled (`enqueue_at`) for its dial time,
with the id `promise-<id>-attempt-<n>`. The database is the source of truth: `reconcile` schedules
every open promise due soon that has no live job, removes jobs of promises no longer open, and
recovers attempts a crashed worker left half done. Workers run it at start and every 30 seconds,
so after Redis loses everything each open promise is back on schedule within a minute.

Outbound calls are paced by `CallPacer`, one limiter in Redis for every worker on every host.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import redis as redis_lib
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from callbacks.attempts import DEFAULT_POLICY, DialPolicy
from callbacks.models import OPEN_PROMISE_STATES, CallbackPromise, PromiseState
from callbacks.outbox import redispatch_pending, settle_unfinished_sends
from terugbel.clock import ensure_utc
from terugbel.logs import get_logger
from terugbel.redis_conn import ALL_QUEUES, DIAL_QUEUE, queue
from terugbel.unit_of_work import AfterCommit

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)

DIAL_PROMISE_JOB = "callbacks.jobs.dial_promise"
_JOB_ID = re.compile(r"^promise-(\d+)-attempt-(\d+)$")
LIVE_STATUSES = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED})
# Dial jobs are small; keep their outcome a while for the console and for debugging.
RESULT_TTL = 3600
FAILURE_TTL = 24 * 3600


def job_id_for(promise_id: int, attempt: int) -> str:
    """The dial job id of one attempt of one promise: `promise-<id>-attempt-<n>`."""
    return f"promise-{promise_id}-attempt-{attempt}"


def parse_job_id(job_id: str) -> tuple[int, int] | None:
    """(promise id, attempt) of a dial job id, or None for any other job."""
    match = _JOB_ID.match(job_id)
    return (int(match.group(1)), int(match.group(2))) if match else None


def schedule_promise(redis: redis_lib.Redis, promise_id: int, attempt: int, at: datetime) -> str:
    """Schedule the dial job of `attempt` at `at`; keep a live job with that id, replace a dead one."""
    job_id = job_id_for(promise_id, attempt)
    dial_queue = queue(redis, DIAL_QUEUE)
    at = ensure_utc(at)
    existing = _fetch(redis, job_id)
    if existing is not None:
        status = existing.get_status(refresh=False)
        if status in (JobStatus.STARTED, JobStatus.QUEUED):
            return job_id  # about to run or running: its guards decide, a second one adds nothing
        if status == JobStatus.SCHEDULED and _scheduled_at(dial_queue, job_id) == int(at.timestamp()):
            return job_id
        existing.delete()
    dial_queue.enqueue_at(
        at,
        DIAL_PROMISE_JOB,
        promise_id,
        attempt,
        job_id=job_id,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        description=f"dial promise {promise_id}, attempt {attempt}",
    )
    return job_id


@dataclass(frozen=True)
class ScheduleDial:
    """After commit: schedule attempt `attempt` of the promise at `at`."""

    promise_id: int
    attempt: int
    at: datetime

    def __call__(self, runtime: Runtime) -> None:
        schedule_promise(runtime.redis, self.promise_id, self.attempt, self.at)


@dataclass(frozen=True)
class UnscheduleDial:
    """After commit: remove the promise's waiting dial jobs."""

    promise_id: int

    def __call__(self, runtime: Runtime) -> None:
        unschedule_promise(runtime.redis, self.promise_id)


def schedule_after_commit(after: AfterCommit, promise_id: int, attempt: int, at: datetime) -> None:
    """Schedule the promise's dial job once the transaction has committed."""
    after.add(ScheduleDial(promise_id, attempt, at), key=("dial job", promise_id))


def unschedule_after_commit(after: AfterCommit, promise_id: int) -> None:
    """Remove the promise's waiting dial jobs once the transaction has committed."""
    after.add(UnscheduleDial(promise_id), key=("dial job", promise_id))


def unschedule_promise(redis: redis_lib.Redis, promise_id: int) -> list[str]:
    """Remove every waiting dial job of the promise (a running one finishes and finds it closed)."""
    prefix = f"promise-{promise_id}-attempt-"
    removed = []
    for job_id in sorted(_waiting_dial_job_ids(redis)):
        if job_id.startswith(prefix) and _delete_unless_running(redis, job_id):
            removed.append(job_id)
    return removed


def live_dial_job_ids(redis: redis_lib.Redis) -> set[str]:
    """Ids of dial jobs that will still run or are running: scheduled, queued or started."""
    dial_queue = queue(redis, DIAL_QUEUE)
    started = StartedJobRegistry(queue=dial_queue)
    ids = _waiting_dial_job_ids(redis) | set(started.get_job_ids())
    live = set()
    for job_id in ids:
        job = _fetch(redis, job_id)
        if job is not None and job.get_status(refresh=False) in LIVE_STATUSES:
            live.add(job_id)
    return live


def _waiting_dial_job_ids(redis: redis_lib.Redis) -> set[str]:
    dial_queue = queue(redis, DIAL_QUEUE)
    return set(ScheduledJobRegistry(queue=dial_queue).get_job_ids()) | set(dial_queue.get_job_ids())


def _fetch(redis: redis_lib.Redis, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return None


def _scheduled_at(dial_queue: object, job_id: str) -> int | None:
    score = dial_queue.connection.zscore(ScheduledJobRegistry(queue=dial_queue).key, job_id)  # type: ignore[attr-defined]
    return None if score is None else int(score)


def _delete_unless_running(redis: redis_lib.Redis, job_id: str) -> bool:
    job = _fetch(redis, job_id)
    if job is None:
        # A dangling id in a registry or the queue: drop it so it is not counted as live.
        dial_queue = queue(redis, DIAL_QUEUE)
        ScheduledJobRegistry(queue=dial_queue).remove(job_id)
        dial_queue.remove(job_id)
        return True
    if job.get_status(refresh=False) == JobStatus.STARTED:
        return False
    job.delete()
    return True


def enqueue_due(runtime: Runtime) -> list[str]:
    """Move scheduled jobs due by the runtime's clock onto their queues; return their ids.

    Production workers leave this to RQ's scheduler (wall time); tests and the shared test clock use
    it so a ManualClock decides what is due.
    """
    moment = runtime.clock.now().timestamp()
    moved: list[str] = []
    for name in ALL_QUEUES:
        target = queue(runtime.redis, name)
        registry = ScheduledJobRegistry(queue=target)
        for job_id in registry.get_jobs_to_schedule(int(moment)):
            job = _fetch(runtime.redis, job_id)
            registry.remove(job_id)
            if job is None:
                continue
            target.enqueue_job(job)
            moved.append(job_id)
    return moved


@dataclass
class ReconcileReport:
    scheduled: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)  # attempt ids settled after a crash or a lost callback
    sms: list[int] = field(default_factory=list)  # pending messages handed to the SMS queue again
    reminders: int = 0  # reminders texted: their window starts within half an hour


def reconcile(runtime: Runtime, policy: DialPolicy = DEFAULT_POLICY) -> ReconcileReport:
    """Bring Redis in line with the database: schedule what is missing, remove what is no longer needed.

    It also texts the reminders that have come due: it runs every 30 seconds in each worker, so a
    reminder goes out at most that late.
    """
    from callbacks.dialling import recover_stale_attempts
    from callbacks.reminders import send_due_reminders

    report = ReconcileReport()
    now = runtime.clock.now()
    live = live_dial_job_ids(runtime.redis)
    due_at = func.coalesce(CallbackPromise.next_attempt_at, CallbackPromise.planned_dial_at)
    with runtime.db.session() as session:
        booked = session.execute(
            select(CallbackPromise.id, CallbackPromise.attempts, due_at)
            .where(CallbackPromise.state == PromiseState.BOOKED.value, due_at <= now + policy.reconcile_horizon)
            .order_by(due_at)
        ).all()
        open_states = {
            promise_id: (state, attempts)
            for promise_id, state, attempts in session.execute(
                select(CallbackPromise.id, CallbackPromise.state, CallbackPromise.attempts).where(
                    CallbackPromise.state.in_([s.value for s in OPEN_PROMISE_STATES])
                )
            )
        }
    for promise_id, attempts, due in booked:
        job_id = job_id_for(promise_id, attempts + 1)
        if job_id not in live:
            schedule_promise(runtime.redis, promise_id, attempts + 1, max(ensure_utc(due), now))
            report.scheduled.append(job_id)
    for job_id in sorted(live):
        parsed = parse_job_id(job_id)
        if parsed is None:
            continue
        promise_id, attempt = parsed
        state = open_states.get(promise_id)
        # A job is stale when its promise is closed, or it is for an attempt already made.
        stale = state is None or (state[0] == PromiseState.BOOKED.value and attempt != state[1] + 1)
        if stale and _delete_unless_running(runtime.redis, job_id):
            report.removed.append(job_id)
    report.recovered = recover_stale_attempts(runtime, policy)
    report.reminders = send_due_reminders(runtime)
    settle_unfinished_sends(runtime)  # first: a send found unfinished goes out again in this pass
    report.sms = redispatch_pending(runtime)
    if report.scheduled or report.removed or report.recovered or report.sms or report.reminders:
        log.info(
            "reconciled dial jobs",
            scheduled=len(report.scheduled),
            removed=len(report.removed),
            recovered=len(report.recovered),
            sms=len(report.sms),
            reminders=report.reminders,
        )
    return report


# --- pacing ----------------------------------------------------------------------------------------

# Reserve the next start slot atomically; Redis's own clock keeps every host on one timeline.
_RESERVE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, next_free)
local ttl_ms = math.floor((start + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], tostring(start + interval), 'PX', ttl_ms)
return start - now
"""


class CallPacer:
    """Outbound call starts spaced to `calls_per_second`, shared by every worker through Redis."""

    KEY = "terugbel:calls:next-start"

    def __init__(self, redis: redis_lib.Redis, calls_per_second: float) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be more than 0")
        self.redis = redis
        self.interval_us = int(1_000_000 / calls_per_second)
        self._script = redis.register_script(_RESERVE_SLOT)

    def reserve(self) -> timedelta:
        """Take the next start slot; return how long to wait for it."""
        wait_us = int(self._script(keys=[self.KEY], args=[self.interval_us]))
        return timedelta(microseconds=wait_us)

    def wait_for_turn(self) -> None:
        """Block until this process may start a call (real time: the network's limit is in real seconds)."""
        wait = self.reserve().total_seconds()
        if wait > 0:
            time.sleep(wait)


def pacer_for(runtime: Runtime) -> CallPacer:
    return CallPacer(runtime.redis, runtime.settings.calls_per_second)
