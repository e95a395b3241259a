"""Real `terugbel worker` processes (two at once), killed with SIGKILL in the middle of a dial.

The workers read "now" from Redis (TERUGBEL_SHARED_TEST_CLOCK, see terugbel/worker.py), which this
test publishes from its ManualClock; the simulator and the live app run in this process.
Waiting for the worker processes is a short bounded poll; simulated time never waits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TypeVar

import pytest
from rq import Worker
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from callbacks.models import CallbackAttempt, CallbackPromise
from callbacks.scheduling import schedule_promise
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.redis_conn import ALL_QUEUES, DIAL_QUEUE, as_text, queue
from terugbel.runtime import Runtime
from terugbel.worker import REDIS_ALIVE_KEY, SharedTestClock
from tests.integration.dispatch_support import add_promise

T = TypeVar("T")

AGENTS = ["+31611110001", "+31611110002"]
CALLERS = ["+31612345601", "+31612345602", "+31612345603"]


class WorkerProcesses:
    """The worker processes this test started, and a driver for them, the simulator and the clock."""

    def __init__(self, runtime: Runtime, sim: Simulator, clock: ManualClock, env: dict[str, str]) -> None:
        self.runtime, self.sim, self.clock, self.env = runtime, sim, clock, env
        self.processes: list[subprocess.Popen[bytes]] = []
        self.killed: list[int] = []
        self.killed_names: set[str] = set()

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "terugbel.cli", "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        self.poll_until(lambda: process.pid in self._registered_pids(), "the worker to register")
        return process

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def kill_worker_running(self, job_id: str) -> None:
        """SIGKILL the worker running `job_id` once its request reached Twilio; start a fresh one."""
        pid = self.poll_until(lambda: self._pid_running(job_id), f"a worker to run {job_id}")
        # The slow fault is taken when the request arrives: from then on Twilio creates the call
        # whatever happens to the worker (the simulator has no public view of pending faults).
        self.poll_until(lambda: not self.sim.faults._faults, f"the request of {job_id} to reach the simulator")
        process = next(p for p in self.processes if p.pid == pid)
        worker_name = Job.fetch(job_id, connection=self.runtime.redis).worker_name
        assert worker_name is not None  # the job is running
        self.killed_names.add(worker_name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.killed.append(pid)
        self.start()

    def stop(self) -> None:
        for process in self.alive():
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    # --- driving -----------------------------------------------------------------------------------
    def publish(self) -> None:
        SharedTestClock.publish(self.runtime.redis, self.clock.now())

    def set_clock(self, moment: datetime) -> None:
        self.clock.set(max(moment, self.clock.now()))
        self.publish()

    def settle(self, max_rounds: int = 100) -> None:
        """Let the workers finish what is due, then the simulator, until neither moves."""
        for _ in range(max_rounds):
            self.wait_for_workers()
            before = (self.clock.now(), len(self.sim.calls()), len(self.sim.engine.webhooks.sent))
            self.sim.run_until_idle(max_seconds=3600)
            self.publish()
            after = (self.clock.now(), len(self.sim.calls()), len(self.sim.engine.webhooks.sent))
            if before == after and self._quiet():
                return
        raise AssertionError("the workers and the simulator never settled")

    def run_until(self, moment: datetime) -> None:
        while True:
            self.settle()
            upcoming = self._next_scheduled()
            if upcoming is None or upcoming > moment:
                self.set_clock(moment)
                self.settle()
                return
            self.set_clock(upcoming)

    def wait_for_workers(self) -> None:
        self.poll_until(lambda: self._quiet() and self._quiet(), "the workers to finish their jobs")

    def poll_until(self, condition: Callable[[], T | None], what: str, seconds: float = 30.0) -> T:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.05)  # bounded poll of other processes, not a wait for simulated time
        raise AssertionError(f"timed out waiting for {what}")

    def _quiet(self) -> bool:
        redis = self.runtime.redis
        if any(queue(redis, name).count for name in ALL_QUEUES):
            return False
        now = self.clock.now().timestamp()
        for name in ALL_QUEUES:
            first = redis.zrange(ScheduledJobRegistry(queue=queue(redis, name)).key, 0, 0, withscores=True)
            if first and float(first[0][1]) <= now:
                return False
        # A job is in flight while its hash says queued or started, unless the worker running it is
        # one we killed. The registries alone cannot tell: a worker listening on several queues pops a
        # job before it enters the started registry, and a flushed Redis forgets worker registrations.
        for key in redis.scan_iter(match="rq:job:*", _type="hash"):
            status, worker_name = redis.hmget(key, "status", "worker_name")
            if status == b"queued" or (status == b"started" and as_text(worker_name or b"") not in self.killed_names):
                return False
        return True

    def _next_scheduled(self) -> datetime | None:
        moments = []
        for name in ALL_QUEUES:
            registry = ScheduledJobRegistry(queue=queue(self.runtime.redis, name))
            first = self.runtime.redis.zrange(registry.key, 0, 0, withscores=True)
            if first:
                moments.append(datetime.fromtimestamp(float(first[0][1]), tz=self.clock.now().tzinfo))
        return min(moments) if moments else None

    def _registered_pids(self) -> set[int]:
        return {w.pid for w in Worker.all(connection=self.runtime.redis) if w.pid is not None}

    def _pid_running(self, job_id: str) -> int | None:
        started = StartedJobRegistry(queue=queue(self.runtime.redis, DIAL_QUEUE))
        if job_id not in started.get_job_ids():
            return None
        worker_name = Job.fetch(job_id, connection=self.runtime.redis).worker_name
        for worker in Worker.all(connection=self.runtime.redis):
            if worker.name == worker_name and worker.pid in {p.pid for p in self.alive()}:
                return worker.pid
        return None


@pytest.fixture
def workers(runtime, live_app, clock) -> Iterator[WorkerProcesses]:
    simulator = Simulator(clock=clock, app_base_url=live_app.base_url, calls_per_second=10).start()
    runtime.settings = runtime.settings.with_overrides(
        twilio_api_base_url=simulator.rest_base_url, calls_per_second=200
    )
    runtime._telephony = None
    settings = runtime.settings
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"}}
    env.update(
        TERUGBEL_DATA_DIR=str(settings.data_dir),
        DATABASE_URL=settings.database_url,
        TERUGBEL_TWILIO_API_BASE_URL=simulator.rest_base_url,
        PUBLIC_BASE_URL=live_app.base_url,
        TERUGBEL_SHARED_TEST_CLOCK="1",
        TERUGBEL_CALLS_PER_SECOND="200",
        TERUGBEL_RECONCILE_SECONDS="2",
    )
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    processes = WorkerProcesses(runtime, simulator, clock, env)
    processes.publish()
    try:
        yield processes
    finally:
        processes.stop()
        simulator.stop()


def test_two_workers_killed_mid_dial_again_and_again_lose_nothing_and_dial_once(
    workers: WorkerProcesses, runtime, make_queue, make_agent, clock
) -> None:
    technisch = make_queue("technisch")
    for index, number in enumerate(AGENTS):
        make_agent(f"Agent {index}", number, ("technisch",))
        workers.sim.add_agent(number)
    promises = []
    for index, number in enumerate(CALLERS):
        start = clock.now() + timedelta(minutes=10 + 20 * index)  # one at a time, to kill each
        promise = add_promise(
            runtime.db,
            queue_id=technisch.id,
            number=number,
            window_start=start,
            planned_dial_at=start + timedelta(seconds=30),
            booked_at=clock.now(),
            problem="modem",
        )
        schedule_promise(runtime.redis, promise.id, 1, promise.planned_dial_at)
        workers.sim.add_callee(number)
        promises.append(promise)
    workers.start()
    workers.start()
    assert len(workers.alive()) == 2

    for promise in promises:
        # Killed while Twilio creates the agent leg: the call exists, its SID was never recorded.
        workers.sim.faults.slow_next(1, seconds=1.5)
        calls_before = len(workers.sim.calls())
        workers.set_clock(promise.planned_dial_at)
        workers.kill_worker_running(f"promise-{promise.id}-attempt-1")
        workers.poll_until(_more_calls_than(workers.sim, calls_before), "the agent leg to be created")
        # Killed again while Twilio creates the caller's leg.
        workers.sim.faults.slow_next(1, seconds=1.5)
        calls_before = len(workers.sim.calls())
        workers.sim.run_until_idle(max_seconds=3600)  # the agent accepts; the caller's leg is requested
        workers.publish()
        attempt_id = _attempt_of(runtime, promise.id)
        workers.kill_worker_running(f"attempt-{attempt_id}-caller")
        workers.poll_until(_more_calls_than(workers.sim, calls_before), "the caller leg to be created")
        workers.run_until(promise.planned_dial_at + timedelta(minutes=5))
        assert len(workers.alive()) == 2

    assert len(workers.killed) == 6
    workers.run_until(promises[-1].window_end + timedelta(minutes=15))
    for promise, number in zip(promises, CALLERS, strict=True):
        with runtime.db.session() as session:
            kept = session.get(CallbackPromise, promise.id)
            assert kept is not None and kept.state == "completed", (promise.id, kept and kept.state)
            assert promise.window_start <= kept.first_dial_at <= promise.window_end
            [attempt] = session.query(CallbackAttempt).filter_by(promise_id=promise.id).all()
        [caller_call] = [c for c in workers.sim.calls() if c.to == number]  # dialled once, not twice
        assert attempt.caller_call_sid == caller_call.sid and attempt.state == "completed"


def _more_calls_than(sim: Simulator, count: int) -> Callable[[], bool]:
    """A condition bound to the count now (the loop goes on to count again)."""
    return lambda: len(sim.calls()) > count


def _attempt_of(runtime: Runtime, promise_id: int) -> int:
    with runtime.db.session() as session:
        attempt = session.query(CallbackAttempt).filter_by(promise_id=promise_id).one()
        return attempt.id


def test_workers_put_every_promise_back_on_schedule_after_redis_restarts_empty(
    workers: WorkerProcesses, runtime, make_queue, make_agent, clock
) -> None:
    technisch = make_queue("technisch")
    for index, number in enumerate(AGENTS):
        make_agent(f"Agent {index}", number, ("technisch",))
        workers.sim.add_agent(number)
    promises = []
    for index, number in enumerate(CALLERS):
        start = clock.now() + timedelta(minutes=5 + 3 * index)
        promise = add_promise(
            runtime.db, queue_id=technisch.id, number=number, window_start=start, booked_at=clock.now(), problem="modem"
        )
        schedule_promise(runtime.redis, promise.id, 1, promise.planned_dial_at)
        workers.sim.add_callee(number)
        promises.append(promise)
    # The periodic reconcile is far off: only noticing the empty Redis can bring the jobs back.
    workers.env["TERUGBEL_RECONCILE_SECONDS"] = "600"
    workers.start()
    workers.start()
    workers.poll_until(lambda: runtime.redis.exists(REDIS_ALIVE_KEY), "the workers to mark Redis")

    runtime.redis.flushdb()  # every dial job is gone, and with them the workers' registrations
    workers.publish()
    dial_registry = ScheduledJobRegistry(queue=queue(runtime.redis, DIAL_QUEUE))
    expected = {f"promise-{p.id}-attempt-1" for p in promises}
    # The workers notice the empty Redis and reconcile within a second or two; nobody else acts.
    workers.poll_until(lambda: set(dial_registry.get_job_ids()) == expected, "the dial jobs to come back", 10)

    workers.run_until(promises[-1].window_end)
    for promise, number in zip(promises, CALLERS, strict=True):
        with runtime.db.session() as session:
            kept = session.get(CallbackPromise, promise.id)
            tried = [(a.state, a.result, a.started_at) for a in kept.attempt_records]
            assert kept is not None and kept.state == "completed", (kept.state, tried, kept.next_attempt_at)
            assert promise.window_start <= kept.first_dial_at <= promise.window_end
        assert len([c for c in workers.sim.calls() if c.to == number]) == 1
