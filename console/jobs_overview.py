"""What RQ holds: per queue the queued, scheduled, started and failed jobs (read through rq's API).

The console shows RQ through rq-dashboard (console/jobs_dashboard.py); these counts feed /metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import redis
from rq import Queue
from rq.job import Job

from terugbel.redis_conn import ALL_QUEUES

JOBS_SHOWN = 50


@dataclass(frozen=True)
class JobLine:
    job_id: str
    function: str
    status: str
    enqueued_at: datetime | None
    scheduled_for: datetime | None
    error: str | None


@dataclass(frozen=True)
class QueueJobs:
    name: str
    queued: int
    scheduled: int
    started: int
    failed: int
    jobs: list[JobLine] = field(default_factory=list)


def rq_overview(connection: redis.Redis, names: tuple[str, ...] = ALL_QUEUES) -> list[QueueJobs]:
    """Counts and the first jobs of every named RQ queue."""
    return [_queue_jobs(Queue(name, connection=connection)) for name in names]


def _queue_jobs(queue: Queue) -> QueueJobs:
    scheduled = queue.scheduled_job_registry
    failed = queue.failed_job_registry
    started = queue.started_job_registry
    scheduled_ids = scheduled.get_job_ids(0, JOBS_SHOWN - 1)
    failed_ids = failed.get_job_ids(0, JOBS_SHOWN - 1)
    ids = [*queue.get_job_ids(0, JOBS_SHOWN - 1), *scheduled_ids, *started.get_job_ids(0, JOBS_SHOWN - 1), *failed_ids]
    jobs = []
    for job in Job.fetch_many(ids[: JOBS_SHOWN * 2], connection=queue.connection):
        if job is None:
            continue
        when = scheduled.get_scheduled_time(job) if job.id in scheduled_ids else None
        error = (job.exc_info or "").strip().splitlines()[-1] if job.id in failed_ids and job.exc_info else None
        jobs.append(
            JobLine(
                job_id=job.id,
                function=job.func_name if job.func_name else "?",
                status=str(job.get_status(refresh=False) or ""),
                enqueued_at=job.enqueued_at,
                scheduled_for=when,
                error=error,
            )
        )
    return QueueJobs(
        name=queue.name,
        queued=queue.count,
        scheduled=scheduled.count,
        started=started.count,
        failed=failed.count,
        jobs=jobs,
    )
