"""The RQ worker process: `terugbel worker` on any number of hosts against one Redis.

At start the worker reconciles the dial jobs with the database, and every 30 seconds (RQ's cron
support, run on a thread of this process, so it survives a Redis that lost everything) it enqueues
the reconcile job again; when a key the workers keep in Redis disappears (Redis restarted empty),
the first worker to notice enqueues it within a second. Reconciling is idempotent. Every hour the
same cron enqueues the job that clears the caller's words past their retention (privacy/retention.py).

Tests and bench/dispatch.py only: with TERUGBEL_SHARED_TEST_CLOCK=1 the worker reads "now" from a
Redis key the test writes (`SharedTestClock.publish`), so a test's ManualClock (or the benchmark's
compressed time) drives worker processes too; scheduled jobs are then moved by that clock
(`enqueue_due`) instead of RQ's wall-time scheduler.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime

import redis
from rq import SimpleWorker, Worker
from rq.cron import CronScheduler

from callbacks.reconcile import reconcile, reconcile_job
from callbacks.scheduling import enqueue_due
from privacy.retention import RETENTION_INTERVAL_SECONDS, clear_expired_words_job
from terugbel.clock import ensure_utc
from terugbel.logs import get_logger
from terugbel.redis_conn import ALL_QUEUES, DEFAULT_QUEUE, queue
from terugbel.runtime import Runtime, install_runtime
from terugbel.wiring import wire

log = get_logger(__name__)

REDIS_ALIVE_KEY = "terugbel:redis-kept-state"  # absent: Redis restarted empty since workers set it
DUE_POLL_SECONDS = 0.1


class SharedTestClock:
    """Tests and benchmark only: the time published in Redis, shared by the test and its worker processes."""

    KEY = "terugbel:test:clock"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._last: datetime | None = None

    def now(self) -> datetime:
        raw = self.client.get(self.KEY)
        if raw is not None:
            self._last = datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else str(raw))
        if self._last is None:
            raise RuntimeError("TERUGBEL_SHARED_TEST_CLOCK is set but no test published the time")
        # A flushed Redis loses the key: time does not go back, it stands still until published again.
        return self._last

    @classmethod
    def publish(cls, client: redis.Redis, moment: datetime) -> None:
        client.set(cls.KEY, ensure_utc(moment).isoformat())


def run_worker(runtime: Runtime, *, burst: bool = False) -> None:
    """Work the dial, sms and default queues (in that order of priority) with RQ's scheduler."""
    shared_clock = runtime.settings.shared_test_clock
    if shared_clock:
        runtime.clock = SharedTestClock(runtime.redis)
    install_runtime(wire(runtime))
    queues = [queue(runtime.redis, name) for name in ALL_QUEUES]
    # Jobs run in this process by default: they are short, idempotent and recovered after a crash,
    # and a forked work horse per job (RQ's default, TERUGBEL_WORKER_FORK=1) costs more CPU than
    # the job itself — time taken from keeping promises on time.
    worker_class = Worker if runtime.settings.worker_fork else SimpleWorker
    worker = worker_class(queues, connection=runtime.redis)
    log.info("worker starting", queues=list(ALL_QUEUES), burst=burst)
    reconcile_now(runtime)
    # With forked work horses each must start without the parent's pooled connections (a
    # connection shared across fork breaks); in-process jobs simply open fresh ones.
    runtime.db.engine.dispose()
    # Build the telephony client (and import twilio's REST modules) once, not in every work horse.
    try:
        runtime.telephony  # noqa: B018
    except ValueError as exc:
        log.warning("telephony not configured; dial jobs will fail until it is", error=str(exc))
    stop = threading.Event()
    if not burst:
        interval = runtime.settings.reconcile_seconds
        _spawn(lambda: _reconcile_periodically(runtime, stop, interval), "terugbel-reconcile")
        if shared_clock:
            _spawn(lambda: _move_due_jobs(runtime, stop), "terugbel-due-jobs")
    try:
        # RQ's own lines (rq.worker, rq.scheduler) at the level the operator chose for ours.
        level = logging.getLevelName(runtime.settings.log_level)
        worker.work(with_scheduler=not shared_clock, burst=burst, logging_level=level)
    finally:
        stop.set()


def reconcile_now(runtime: Runtime) -> None:
    """Reconcile dial jobs with the database once; a failure is logged, the worker still starts."""
    try:
        reconcile(runtime)
    except Exception:
        log.exception("reconcile at worker start failed")


def _reconcile_periodically(runtime: Runtime, stop: threading.Event, interval: int) -> None:
    cron = CronScheduler(connection=runtime.redis, name=f"terugbel-reconcile-{os.getpid()}")
    cron.register(reconcile_job, queue_name=DEFAULT_QUEUE, interval=interval, result_ttl=60)
    cron.register(clear_expired_words_job, queue_name=DEFAULT_QUEUE, interval=RETENTION_INTERVAL_SECONDS, result_ttl=60)
    while not stop.is_set():
        try:
            # A Redis that lost everything (a restart, a flush) lost this key too: the first worker
            # to notice reconciles at once instead of at the next tick.
            if runtime.redis.set(REDIS_ALIVE_KEY, "1", nx=True):
                queue(runtime.redis, DEFAULT_QUEUE).enqueue(reconcile_job, result_ttl=60)
            cron.enqueue_jobs()
        except redis.RedisError:
            log.exception("could not enqueue the reconcile job")
        stop.wait(max(min(cron.calculate_sleep_interval(), 1.0), 0.2))


def _move_due_jobs(runtime: Runtime, stop: threading.Event) -> None:
    while not stop.wait(DUE_POLL_SECONDS):
        try:
            enqueue_due(runtime)
        except (redis.RedisError, RuntimeError):
            log.exception("could not move due jobs")


def _spawn(target: object, name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()  # type: ignore[arg-type]
