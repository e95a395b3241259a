"""Faults a test can inject into the simulated REST API: the next N requests fail or answer slowly."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    remaining: int
    status: int = 500
    code: int | None = None
    delay_seconds: float = 0.0  # answer after this much real time (exercises client timeouts)


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def rate_limit_next(self, count: int = 1) -> None:
        """The next `count` requests answer HTTP 429 with error 20429 (Too Many Requests)."""
        self._add(Fault(count, status=429, code=20429))

    def fail_next(self, count: int = 1, status: int = 500, code: int | None = 20500) -> None:
        """The next `count` requests answer a server error."""
        self._add(Fault(count, status=status, code=code))

    def slow_next(self, count: int = 1, seconds: float = 1.0) -> None:
        """The next `count` requests are answered normally, after `seconds` of real time."""
        self._add(Fault(count, status=200, delay_seconds=seconds))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self) -> Fault | None:
        """The fault for the request arriving now, if any."""
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
            return fault

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)
