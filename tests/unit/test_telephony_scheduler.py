"""The clock-driven scheduler: simulated time jumps, nothing sleeps."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from telephony.simulator.scheduler import Process, Scheduler, sleep, wait_for
from terugbel.clock import ManualClock

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_an_hour_of_simulated_time_runs_in_milliseconds() -> None:
    clock = ManualClock(START)
    scheduler = Scheduler(clock)
    seen: list[tuple[str, datetime]] = []

    def talker(name: str, pause: float) -> Process:
        for _ in range(3):
            yield from sleep(pause)
            seen.append((name, clock.now()))

    scheduler.spawn(talker("a", 600), "a")
    scheduler.spawn(talker("b", 1200), "b")
    began = time.monotonic()
    scheduler.run_until()

    assert time.monotonic() - began < 1
    assert clock.now() == START + timedelta(hours=1)
    assert [name for name, _ in seen] == ["a", "a", "b", "a", "b", "b"]


def test_wait_for_returns_whether_the_condition_held() -> None:
    clock = ManualClock(START)
    scheduler = Scheduler(clock)
    flag = {"set": False}
    results: list[bool] = []

    def waiter(timeout: float) -> Process:
        results.append((yield from wait_for(lambda: flag["set"], timeout)))

    def setter() -> Process:
        yield from sleep(10)
        flag["set"] = True

    scheduler.spawn(waiter(5), "short")
    scheduler.spawn(waiter(60), "long")
    scheduler.spawn(setter(), "setter")
    scheduler.run_until()

    assert results == [False, True]
    assert clock.now() == START + timedelta(seconds=10)


def test_a_process_that_waits_forever_does_not_hang_the_run() -> None:
    clock = ManualClock(START)
    scheduler = Scheduler(clock)

    def stuck() -> Process:
        yield from wait_for(lambda: False)

    scheduler.spawn(stuck(), "stuck")
    scheduler.run_until()
    assert not scheduler.idle and clock.now() == START


def test_a_failing_process_does_not_stop_the_others() -> None:
    clock = ManualClock(START)
    scheduler = Scheduler(clock)
    finished: list[str] = []

    def broken() -> Process:
        yield from sleep(1)
        raise RuntimeError("boom")

    def fine() -> Process:
        yield from sleep(2)
        finished.append("fine")

    failing = scheduler.spawn(broken(), "broken")
    scheduler.spawn(fine(), "fine")
    scheduler.run_until()
    assert finished == ["fine"] and isinstance(failing.error, RuntimeError)
