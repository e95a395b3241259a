"""Outbound call starts paced to the account's calls per second, one limiter in Redis for every worker."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

import redis as redis_lib

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

# Reserve the next start slot atomically; Redis's own clock keeps every host on one timeline.
_RESERVE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, next_free)
local ttl_ms = math.floor((start + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], tostring(start + interval), 'PX', ttl_ms)
return start - now
"""


class CallPacer:
    """Outbound call starts spaced to `calls_per_second`, shared by every worker through Redis."""

    KEY = "terugbel:calls:next-start"

    def __init__(self, redis: redis_lib.Redis, calls_per_second: float) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be more than 0")
        self.redis = redis
        self.interval_us = int(1_000_000 / calls_per_second)
        self._script = redis.register_script(_RESERVE_SLOT)

    def reserve(self) -> timedelta:
        """Take the next start slot; return how long to wait for it."""
        wait_us = int(self._script(keys=[self.KEY], args=[self.interval_us]))
        return timedelta(microseconds=wait_us)

    def wait_for_turn(self) -> None:
        """Block until this process may start a call (real time: the network's limit is in real seconds)."""
        wait = self.reserve().total_seconds()
        if wait > 0:
            time.sleep(wait)


def pacer_for(runtime: Runtime) -> CallPacer:
    """The pacer of the runtime's Redis at the configured calls per second."""
    return CallPacer(runtime.redis, runtime.settings.calls_per_second)
