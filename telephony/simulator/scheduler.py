"""A clock-driven cooperative scheduler: each call is a generator that yields what it waits for.

With a ManualClock nothing sleeps: when every call waits, the clock jumps to the next wake-up, so a
call full of pauses and timeouts runs in milliseconds. With a real clock it waits in real time.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from terugbel.clock import Clock, ManualClock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sleep:
    """Let `seconds` of (simulated) time pass."""

    seconds: float


@dataclass(frozen=True)
class WaitFor:
    """Wait until `predicate()` holds, or `timeout` seconds pass; the yield returns which (True = held)."""

    predicate: Callable[[], bool]
    timeout: float | None = None


Process = Generator[Sleep | WaitFor, Any, Any]


def sleep(seconds: float) -> Process:
    """`yield from sleep(3)` inside a process."""
    if seconds > 0:
        yield Sleep(seconds)


def wait_for(predicate: Callable[[], bool], timeout: float | None = None) -> Process:
    """`held = yield from wait_for(...)` inside a process."""
    if predicate():
        return True
    held = yield WaitFor(predicate, timeout)
    return held


@dataclass
class Task:
    name: str
    process: Process
    wake_at: datetime | None = None  # Sleep, or start time
    predicate: Callable[[], bool] | None = None
    deadline: datetime | None = None  # WaitFor timeout
    started: bool = False
    done: bool = False
    error: BaseException | None = None
    order: int = field(default_factory=itertools.count().__next__)


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.manual = isinstance(clock, ManualClock)
        self._tasks: list[Task] = []
        self._lock = threading.RLock()
        self._running = threading.Lock()  # one driver at a time: test thread or background thread

    def spawn(self, process: Process, name: str, at: datetime | None = None) -> Task:
        """Start `process` now or at `at`; safe to call from any thread."""
        task = Task(name=name, process=process, wake_at=at)
        with self._lock:
            self._tasks.append(task)
        return task

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._tasks

    def run_until(self, done: Callable[[], bool] | None = None, *, max_seconds: float = 24 * 3600,
                  poll_seconds: float = 0.05, stop: threading.Event | None = None) -> None:
        """Drive every process until `done()` holds, or (without `done`) until nothing is left to do.

        `max_seconds` bounds simulated time so a script that never hangs up cannot loop forever.
        """
        with self._running:
            limit = self.clock.now() + timedelta(seconds=max_seconds)
            while True:
                if stop is not None and stop.is_set():
                    return
                ran = self._run_ready()
                if done is not None and done():
                    return
                if ran:
                    continue
                next_wake = self._next_wake()
                with self._lock:
                    has_tasks = bool(self._tasks)
                if self.manual:
                    if has_tasks and next_wake is not None and next_wake <= limit:
                        self.clock.set(max(next_wake, self.clock.now()))  # type: ignore[attr-defined]
                        continue
                    if stop is None:
                        return  # nothing can move any more without outside help
                if not has_tasks and done is None and stop is None:
                    return
                if self.clock.now() > limit:
                    return
                pause = poll_seconds
                if next_wake is not None:
                    pause = min(pause, max(0.0, (next_wake - self.clock.now()).total_seconds()))
                time.sleep(pause)  # real time only: the demo and the CLI

    def _next_wake(self) -> datetime | None:
        with self._lock:
            moments = [moment for t in self._tasks if (moment := t.wake_at or t.deadline) is not None]
        return min(moments) if moments else None

    def _run_ready(self) -> bool:
        now = self.clock.now()
        with self._lock:
            ready = sorted((t for t in self._tasks if self._is_ready(t, now)), key=lambda t: t.order)
        for task in ready:
            self._advance(task)
        return bool(ready)

    @staticmethod
    def _is_ready(task: Task, now: datetime) -> bool:
        if task.predicate is not None:
            return bool(task.predicate()) or (task.deadline is not None and now >= task.deadline)
        return task.wake_at is None or now >= task.wake_at

    def _advance(self, task: Task) -> None:
        send: Any = None
        if task.predicate is not None:
            send = bool(task.predicate())
        task.predicate = task.deadline = task.wake_at = None
        try:
            request = task.process.send(send) if task.started else next(task.process)
            task.started = True
        except StopIteration:
            self._finish(task)
            return
        except Exception as exc:  # a broken process must not stop the other calls
            log.exception("simulated process %s failed", task.name)
            task.error = exc
            self._finish(task)
            return
        now = self.clock.now()
        if isinstance(request, Sleep):
            task.wake_at = now + timedelta(seconds=request.seconds)
        elif isinstance(request, WaitFor):
            task.predicate = request.predicate
            task.deadline = now + timedelta(seconds=request.timeout) if request.timeout is not None else None
        else:
            raise TypeError(f"process {task.name} yielded {request!r}")

    def _finish(self, task: Task) -> None:
        task.done = True
        with self._lock:
            if task in self._tasks:
                self._tasks.remove(task)
