"""Jobs on the dial queue: a promise's dial job, job ids, enqueue after commit, due jobs by the clock.

Each booked promise has one RQ job on the `dial` queue, scheduled (`enqueue_at`) for its dial time,
with the id `promise-<id>-attempt-<n>`. The database is the source of truth: callbacks/reconcile.py
puts back what Redis lost.

Every job is enqueued by function reference, with an id derived from what it acts on, and is a
module-level function in the module that does the work: it takes ids, asks `current_runtime()`
for the rest, and is safe to run twice. The jobs and their ids:

- `dial_promise` (here)                  `promise-<promise id>-attempt-<n>`
- `agent_leg.ring_agent`                 `attempt-<attempt id>-agent-<k>[-retry-<failures>]`
- `caller_leg.dial_caller_job`           `attempt-<attempt id>-caller[-<failures>]`
- `telephony.outbox.send_sms`            `sms-<message id>`
- `reconcile.reconcile_job`              periodic (the worker's cron), no id of its own
- `privacy.retention.clear_expired_words_job`  hourly (the worker's cron), no id of its own

`dial_promise` is the one job whose step sits above this module: starting an attempt can schedule
a dial job again (a retry, a rebooking). So the job runs the step the composition root handed the
runtime (`runtime.start_dial`, terugbel/wiring.py) instead of importing it: no import circle.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis as redis_lib
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from terugbel.clock import ensure_utc
from terugbel.redis_conn import ALL_QUEUES, DIAL_QUEUE, queue
from terugbel.runtime import current_runtime
from terugbel.unit_of_work import AfterCommit

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

_JOB_ID = re.compile(r"^promise-(\d+)-attempt-(\d+)$")
LIVE_STATUSES = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED})
# Dial jobs are small; keep their outcome a while for the console and for debugging.
RESULT_TTL = 3600
FAILURE_TTL = 24 * 3600


def job_id_for(promise_id: int, attempt: int) -> str:
    """The dial job id of one attempt of one promise: `promise-<id>-attempt-<n>`."""
    return f"promise-{promise_id}-attempt-{attempt}"


def agent_ring_job_id(attempt_id: int, agents_tried: int, failures: int = 0) -> str:
    """The job id that rings the next agent after `agents_tried` agents (and `failures` network refusals)."""
    job_id = f"attempt-{attempt_id}-agent-{agents_tried}"
    return f"{job_id}-retry-{failures}" if failures else job_id


def caller_dial_job_id(attempt_id: int, failures: int = 0) -> str:
    """The job id that dials the caller of an accepted attempt (after `failures` network refusals)."""
    return f"attempt-{attempt_id}-caller-{failures}" if failures else f"attempt-{attempt_id}-caller"


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
        dial_promise,
        promise_id,
        attempt,
        job_id=job_id,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        description=f"dial promise {promise_id}, attempt {attempt}",
    )
    return job_id


def dial_promise(promise_id: int, attempt: int) -> str:
    """RQ job: start attempt `attempt` of a promise that is due: reserve an agent and ring them."""
    runtime = current_runtime()
    if runtime.start_dial is None:
        raise RuntimeError("the runtime has no dial step: wire it first (terugbel/wiring.py)")
    return runtime.start_dial(runtime, promise_id, attempt)


def enqueue_dial_step(
    redis: redis_lib.Redis, job: Callable[..., Any], *args: Any, job_id: str, at: datetime | None = None
) -> None:
    """Put a dial step on the dial queue now (to run at `at`, or at once)."""
    dial_queue = queue(redis, DIAL_QUEUE)
    options: dict[str, Any] = {"job_id": job_id, "result_ttl": RESULT_TTL, "failure_ttl": FAILURE_TTL}
    if at is None:
        dial_queue.enqueue(job, *args, **options)
    else:
        dial_queue.enqueue_at(at, job, *args, **options)


def enqueue_after_commit(
    after: AfterCommit, job: Callable[..., Any], *args: Any, job_id: str, at: datetime | None = None
) -> None:
    """Put a dial step on the dial queue once the transaction has committed (to run at `at`, or at once)."""
    after.add(lambda runtime: enqueue_dial_step(runtime.redis, job, *args, job_id=job_id, at=at), key=("job", job_id))


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
        if job_id.startswith(prefix) and delete_unless_running(redis, job_id):
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


def delete_unless_running(redis: redis_lib.Redis, job_id: str) -> bool:
    """Delete a waiting job (or a dangling id); leave a running one. Return whether it is gone."""
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
