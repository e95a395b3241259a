"""Drive callbacks end to end on one ManualClock: due jobs, an in-process RQ worker, the simulator.

`CallbackWorld.run_until(moment)` repeats: move the jobs due by the clock onto their queues, run
them with RQ's SimpleWorker (burst), let the simulator play every call as far as it can, and when
nothing moves any more, jump the clock to the next scheduled job — never sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from callbacks.models import CallbackAttempt, CallbackPromise
from callbacks.reconcile import reconcile_job
from callbacks.scheduling import enqueue_due, schedule_promise
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.redis_conn import ALL_QUEUES, DEFAULT_QUEUE, queue
from terugbel.runtime import Runtime
from tests.integration.dispatch_support import add_promise


@dataclass
class CallbackWorld:
    runtime: Runtime
    sim: Simulator
    clock: ManualClock
    # Like a worker's periodic reconcile job: every so much simulated time (None: not at all).
    reconcile_every: timedelta | None = None
    _last_reconcile: datetime | None = None

    def work(self) -> bool:
        """Run every queued job once, in this process; return whether there was any."""
        queues = [queue(self.runtime.redis, name) for name in ALL_QUEUES]
        worker = SimpleWorker(queues, connection=self.runtime.redis)
        return bool(worker.work(burst=True, with_scheduler=False, logging_level="WARNING"))

    def next_scheduled(self) -> datetime | None:
        moments = []
        for name in ALL_QUEUES:
            registry = ScheduledJobRegistry(queue=queue(self.runtime.redis, name))
            first = self.runtime.redis.zrange(registry.key, 0, 0, withscores=True)
            if first:
                moments.append(datetime.fromtimestamp(float(first[0][1]), tz=self.clock.now().tzinfo))
        return min(moments) if moments else None

    def settle(self, max_rounds: int = 200) -> None:
        """Run jobs and calls until neither has anything left to do at this moment."""
        for _ in range(max_rounds):
            moved = enqueue_due(self.runtime)
            worked = self.work()
            before = self.clock.now()
            self.sim.run_until_idle(max_seconds=3600)
            if not moved and not worked and self.clock.now() == before and not self._queued():
                return
        raise AssertionError("the callback world never settled")

    def run_until(self, moment: datetime) -> None:
        """Settle, then jump to each scheduled job (and reconcile tick) up to `moment`, and settle again."""
        while True:
            self._reconcile_if_time()
            self.settle()
            upcoming = self.next_scheduled()
            if self.reconcile_every is not None and self._last_reconcile is not None:
                tick = self._last_reconcile + self.reconcile_every
                upcoming = tick if upcoming is None else min(upcoming, tick)
            if upcoming is None or upcoming > moment:
                if self.clock.now() < moment:
                    self.clock.set(moment)
                    self.settle()
                return
            self.clock.set(max(upcoming, self.clock.now()))

    def _reconcile_if_time(self) -> None:
        if self.reconcile_every is None:
            return
        now = self.clock.now()
        if self._last_reconcile is None or now >= self._last_reconcile + self.reconcile_every:
            queue(self.runtime.redis, DEFAULT_QUEUE).enqueue(reconcile_job)
            self._last_reconcile = now

    def _queued(self) -> bool:
        return any(queue(self.runtime.redis, name).count for name in ALL_QUEUES)

    # --- what happened -----------------------------------------------------------------------------
    def promise(self, promise_id: int) -> CallbackPromise:
        with self.runtime.db.session() as session:
            promise = session.get(CallbackPromise, promise_id)
            assert promise is not None
            return promise

    def attempts(self, promise_id: int) -> list[CallbackAttempt]:
        with self.runtime.db.session() as session:
            return list(
                session.scalars(
                    select(CallbackAttempt)
                    .where(CallbackAttempt.promise_id == promise_id)
                    .order_by(CallbackAttempt.number)
                )
            )

    def calls_to(self, number: str) -> list[Any]:
        return sorted((c for c in self.sim.calls() if c.to == number), key=lambda c: c.date_created)


def book(
    world: CallbackWorld, queue: Any, number: str, *, minutes_ahead: int = 30, schedule: bool = True, **fields: Any
):
    """A promise whose window starts `minutes_ahead` from now, dialled a minute into it (job scheduled unless told)."""
    start = world.clock.now() + timedelta(minutes=minutes_ahead)
    promise = add_promise(
        world.runtime.db,
        queue_id=queue.id,
        number=number,
        window_start=start,
        planned_dial_at=start + timedelta(minutes=1),
        booked_at=world.clock.now(),
        **fields,
    )
    if schedule:
        schedule_promise(world.runtime.redis, promise.id, 1, promise.planned_dial_at)
    return promise
