"""Dial jobs in real Redis: ids, (un)scheduling, the reconciler after a flush, due jobs by the clock, pacing."""

from __future__ import annotations

from datetime import timedelta

from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import update

from callbacks import pacing, reconcile, scheduling
from callbacks.models import CallbackPromise, PromiseState
from terugbel.redis_conn import DIAL_QUEUE, queue
from tests.integration.dispatch_support import add_promise


def _scheduled(redis_conn) -> dict[str, float]:
    registry = ScheduledJobRegistry(queue=queue(redis_conn, DIAL_QUEUE))
    return {job_id: redis_conn.zscore(registry.key, job_id) for job_id in registry.get_job_ids()}


def test_job_ids_name_the_promise_and_the_attempt() -> None:
    assert scheduling.job_id_for(42, 3) == "promise-42-attempt-3"
    assert scheduling.parse_job_id("promise-42-attempt-3") == (42, 3)
    assert scheduling.parse_job_id("sms-7") is None


def test_schedule_promise_is_idempotent_and_moves_with_the_time(redis_conn, clock) -> None:
    at = clock.now() + timedelta(minutes=20)
    job_id = scheduling.schedule_promise(redis_conn, 7, 1, at)
    assert scheduling.schedule_promise(redis_conn, 7, 1, at) == job_id == "promise-7-attempt-1"
    assert _scheduled(redis_conn) == {job_id: at.timestamp()}
    job = Job.fetch(job_id, connection=redis_conn)
    assert job.func_name == "callbacks.scheduling.dial_promise" and job.args == (7, 1)

    later = at + timedelta(minutes=5)
    scheduling.schedule_promise(redis_conn, 7, 1, later)
    assert _scheduled(redis_conn) == {job_id: later.timestamp()}


def test_unschedule_promise_removes_only_that_promises_jobs(redis_conn, clock) -> None:
    at = clock.now() + timedelta(minutes=20)
    scheduling.schedule_promise(redis_conn, 7, 1, at)
    scheduling.schedule_promise(redis_conn, 8, 1, at)
    assert scheduling.unschedule_promise(redis_conn, 7) == ["promise-7-attempt-1"]
    assert set(_scheduled(redis_conn)) == {"promise-8-attempt-1"}
    assert not redis_conn.exists("rq:job:promise-7-attempt-1")


def test_reconcile_schedules_due_promises_and_removes_closed_ones(runtime, make_queue, clock) -> None:
    technisch = make_queue()
    now = clock.now()
    soon = add_promise(
        runtime.db, queue_id=technisch.id, number="+31612345001", window_start=now + timedelta(minutes=5), booked_at=now
    )
    far = add_promise(
        runtime.db, queue_id=technisch.id, number="+31612345002", window_start=now + timedelta(hours=3), booked_at=now
    )
    closed = add_promise(
        runtime.db,
        queue_id=technisch.id,
        number="+31612345003",
        window_start=now + timedelta(minutes=10),
        booked_at=now,
    )
    scheduling.schedule_promise(runtime.redis, closed.id, 1, now + timedelta(minutes=10))
    with runtime.db.session() as session:
        session.execute(
            update(CallbackPromise).where(CallbackPromise.id == closed.id).values(state=PromiseState.CANCELLED.value)
        )

    report = reconcile.reconcile(runtime)

    assert report.scheduled == [f"promise-{soon.id}-attempt-1"]
    assert report.removed == [f"promise-{closed.id}-attempt-1"]
    assert _scheduled(runtime.redis) == {f"promise-{soon.id}-attempt-1": (now + timedelta(minutes=5)).timestamp()}
    assert f"promise-{far.id}-attempt-1" not in _scheduled(runtime.redis)
    # Nothing left to do: a second run changes nothing.
    again = reconcile.reconcile(runtime)
    assert again.scheduled == [] and again.removed == []


def test_after_a_flush_every_open_promise_due_soon_is_back_on_schedule(runtime, make_queue, clock) -> None:
    technisch = make_queue()
    now = clock.now()
    promises = [
        add_promise(
            runtime.db,
            queue_id=technisch.id,
            number=f"+3161234510{i}",
            window_start=now + timedelta(minutes=2 * i),
            booked_at=now,
        )
        for i in range(5)
    ]
    for promise in promises:
        scheduling.schedule_promise(runtime.redis, promise.id, 1, promise.planned_dial_at)
    runtime.redis.flushdb()
    assert _scheduled(runtime.redis) == {}

    reconcile.reconcile(runtime)

    assert _scheduled(runtime.redis) == {
        f"promise-{p.id}-attempt-1": max(p.planned_dial_at, now).timestamp() for p in promises
    }


def test_reconcile_schedules_the_next_attempt_at_its_retry_time(runtime, make_queue, clock) -> None:
    technisch = make_queue()
    now = clock.now()
    retry_at = now + timedelta(minutes=4)
    promise = add_promise(
        runtime.db,
        queue_id=technisch.id,
        number="+31612345009",
        window_start=now - timedelta(minutes=1),
        booked_at=now - timedelta(hours=1),
        attempts=1,
        next_attempt_at=retry_at,
    )
    scheduling.schedule_promise(runtime.redis, promise.id, 1, now)  # a stale job of the attempt already made

    report = reconcile.reconcile(runtime)

    assert report.scheduled == [f"promise-{promise.id}-attempt-2"]
    assert report.removed == [f"promise-{promise.id}-attempt-1"]
    assert _scheduled(runtime.redis) == {f"promise-{promise.id}-attempt-2": retry_at.timestamp()}


def test_enqueue_due_moves_jobs_by_the_injected_clock(runtime, clock) -> None:
    scheduling.schedule_promise(runtime.redis, 1, 1, clock.now() + timedelta(minutes=1))
    scheduling.schedule_promise(runtime.redis, 2, 1, clock.now() + timedelta(minutes=10))
    assert scheduling.enqueue_due(runtime) == []

    clock.advance(minutes=1)

    assert scheduling.enqueue_due(runtime) == ["promise-1-attempt-1"]
    dial_queue = queue(runtime.redis, DIAL_QUEUE)
    assert dial_queue.get_job_ids() == ["promise-1-attempt-1"]
    assert Job.fetch("promise-1-attempt-1", connection=runtime.redis).get_status() == JobStatus.QUEUED
    assert set(_scheduled(runtime.redis)) == {"promise-2-attempt-1"}


def test_the_pacer_spaces_call_starts_across_every_user_of_redis(redis_conn) -> None:
    first = pacing.CallPacer(redis_conn, calls_per_second=2)
    second = pacing.CallPacer(redis_conn, calls_per_second=2)  # another worker
    waits = [first.reserve(), second.reserve(), first.reserve()]
    assert waits[0] == timedelta(0)
    # Each reservation is half a second after the previous one (less the few microseconds in between).
    assert timedelta(milliseconds=480) < waits[1] <= timedelta(milliseconds=500)
    assert timedelta(milliseconds=980) < waits[2] <= timedelta(seconds=1)
