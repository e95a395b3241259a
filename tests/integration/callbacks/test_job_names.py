"""Every kind of job the code enqueues names a function RQ can import, with the id its docstring documents."""

from __future__ import annotations

import importlib
import re
import threading
import time
from datetime import timedelta

from rq.job import Job

from callbacks import agent_leg, caller_leg, reconcile, scheduling
from callbacks.models import AttemptState, CallbackAttempt
from privacy import retention
from routing import distribution
from telephony import outbox
from terugbel import worker
from terugbel.redis_conn import DEFAULT_QUEUE, DIAL_QUEUE, SMS_QUEUE, queue
from terugbel.unit_of_work import AfterCommit, unit_of_work
from tests.integration.dispatch_support import add_attempt_in_flight


def resolved(job: Job) -> object:
    """The function a worker imports for the job: its module, then the name in it."""
    module, _, name = job.func_name.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _jobs(runtime, name: str) -> list[Job]:
    target = queue(runtime.redis, name)
    ids = target.get_job_ids() + target.scheduled_job_registry.get_job_ids()
    return [Job.fetch(job_id, connection=runtime.redis) for job_id in ids]


def _ringing_attempt(runtime, make_queue, make_agent, clock, **fields) -> tuple[CallbackAttempt, int]:
    _promise, attempt, agent = add_attempt_in_flight(
        runtime.db, make_queue, make_agent, clock,
        state=AttemptState.AGENT_RINGING.value, agent_call_sid="CA" + "a" * 32, **fields,
    )  # fmt: skip
    return attempt, agent.id


def test_the_dial_job_of_a_promise(runtime, clock) -> None:
    scheduling.schedule_promise(runtime.redis, 7, 2, clock.now() + timedelta(minutes=5))
    [job] = _jobs(runtime, DIAL_QUEUE)
    assert resolved(job) is scheduling.dial_promise
    assert job.id == "promise-7-attempt-2" and re.fullmatch(r"promise-\d+-attempt-\d+", job.id)


def test_ringing_the_next_agent_after_a_pass_and_after_a_refusal(runtime, make_queue, make_agent, clock) -> None:
    attempt, agent_id = _ringing_attempt(runtime, make_queue, make_agent, clock)
    assert agent_leg.agent_passes(runtime, attempt.id, agent_id, "CA" + "a" * 32)
    # The agent who passed is free again: they are offered what waits, the attempt rings the next.
    [offer] = [j for j in _jobs(runtime, DIAL_QUEUE) if resolved(j) is distribution.offer_freed_agent]
    assert offer.args == (agent_id,)
    [job] = [j for j in _jobs(runtime, DIAL_QUEUE) if j.id != offer.id]
    assert resolved(job) is agent_leg.ring_agent
    assert job.id == f"attempt-{attempt.id}-agent-1" and job.args == (attempt.id, 0)

    after = AfterCommit()
    agent_leg.ring_agent_after_commit(after, attempt.id, 1, 2, at=clock.now() + timedelta(seconds=4))
    after.run(runtime)
    retry = Job.fetch(f"attempt-{attempt.id}-agent-1-retry-2", connection=runtime.redis)
    assert resolved(retry) is agent_leg.ring_agent and retry.args == (attempt.id, 2)
    for job_id in (job.id, retry.id):
        assert re.fullmatch(r"attempt-\d+-agent-\d+(-retry-\d+)?", job_id)


def test_dialling_the_caller_after_the_agent_accepts_and_after_a_refusal(
    runtime, make_queue, make_agent, clock
) -> None:
    attempt, agent_id = _ringing_attempt(runtime, make_queue, make_agent, clock)
    assert agent_leg.agent_accepts(runtime, attempt.id, agent_id, "CA" + "a" * 32) is not None
    [job] = _jobs(runtime, DIAL_QUEUE)
    assert resolved(job) is caller_leg.dial_caller_job
    assert job.id == f"attempt-{attempt.id}-caller" and job.args == (attempt.id, 0)

    after = AfterCommit()
    caller_leg.dial_caller_after_commit(after, attempt.id, 3, at=clock.now() + timedelta(seconds=8))
    after.run(runtime)
    retry = Job.fetch(f"attempt-{attempt.id}-caller-3", connection=runtime.redis)
    assert resolved(retry) is caller_leg.dial_caller_job and retry.args == (attempt.id, 3)
    for job_id in (job.id, retry.id):
        assert re.fullmatch(r"attempt-\d+-caller(-\d+)?", job_id)


def test_sending_a_queued_text(runtime, clock) -> None:
    with unit_of_work(runtime) as session:
        message = outbox.queue_sms(session, to="+31612345678", body="Test", purpose="test", now=clock.now())
    [job] = _jobs(runtime, SMS_QUEUE)
    assert resolved(job) is outbox.send_sms
    assert job.id == f"sms-{message.id}" and job.args == (message.id,)


def test_the_periodic_jobs_the_worker_enqueues(runtime) -> None:
    stop = threading.Event()
    ticker = threading.Thread(target=worker._reconcile_periodically, args=(runtime, stop, 30), daemon=True)
    ticker.start()  # Redis kept no state: the worker enqueues a reconcile at once
    deadline = time.monotonic() + 10
    while not queue(runtime.redis, DEFAULT_QUEUE).count and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    ticker.join(timeout=5)
    jobs = _jobs(runtime, DEFAULT_QUEUE)
    functions = {resolved(job) for job in jobs}
    assert reconcile.reconcile_job in functions
    assert functions <= {reconcile.reconcile_job, retention.clear_expired_words_job}
