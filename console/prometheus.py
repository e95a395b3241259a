"""`/metrics` in Prometheus' text format, behind an API token (supervisor role or higher).

Rendered by prometheus_client from a registry built for each scrape, holding one collector that
reads the database and Redis (console/metric_families.py): no metric lives in a process, so any
number of gunicorn processes answer alike without prometheus_client's multiprocess mode. Webhook
latency is tallied in each web process and added to one histogram in Redis by a background thread,
so every web process adds to the same histogram and no caller ever waits for a metric.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime

import redis
from flask import Response, current_app, g, request
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.orm import Session

from console.blueprint import bp
from console.metric_families import LATENCY_BUCKETS, LATENCY_KEY, TerugbelCollector
from console.models import Role
from console.tokens import identify_token
from terugbel.logs import get_logger
from terugbel.runtime import Runtime

log = get_logger(__name__)

# The text format generate_latest writes (newer prometheus_client versions also name a 1.0.0 format).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class LatencyTally:
    """Webhook answers not yet added to the shared histogram."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.sums: defaultdict[str, float] = defaultdict(float)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def add(self, endpoint: str, seconds: float) -> None:
        bucket = next((bound for bound in LATENCY_BUCKETS if seconds <= bound), "+Inf")
        self.counts[f"{endpoint}|{bucket}"] += 1
        self.counts[f"{endpoint}|count"] += 1
        self.sums[f"{endpoint}|sum"] += seconds

    def merge(self, other: LatencyTally) -> None:
        self.counts.update(other.counts)
        for key, seconds in other.sums.items():
            self.sums[key] += seconds

    def write(self, connection: redis.Redis) -> None:
        pipe = connection.pipeline(transaction=False)
        for field, count in self.counts.items():
            pipe.hincrby(LATENCY_KEY, field, count)
        for field, total in self.sums.items():
            pipe.hincrbyfloat(LATENCY_KEY, field, total)
        pipe.execute()


class LatencyRecorder:
    """Tallies webhook answer times in this process; a daemon thread adds them to Redis each second.

    A webhook only touches a dictionary. While Redis is down the tallies wait (they are counts, a
    few fields per endpoint) and go out with the next write that succeeds.
    """

    def __init__(self, connection: redis.Redis, interval_seconds: float = 1.0) -> None:
        self._connection = connection
        self._interval = interval_seconds
        self._lock = threading.Lock()
        self._pending = LatencyTally()
        self._writer_pid: int | None = None

    def record(self, endpoint: str, seconds: float) -> None:
        with self._lock:
            self._pending.add(endpoint, seconds)
            if self._writer_pid != os.getpid():  # first record in this process (gunicorn forks workers)
                self._writer_pid = os.getpid()
                threading.Thread(target=self._write_forever, name="webhook-latency", daemon=True).start()

    def flush(self) -> bool:
        """Add what is pending to Redis now; False (keeping it for later) if Redis fails."""
        with self._lock:
            pending, self._pending = self._pending, LatencyTally()
        if not pending:
            return True
        try:
            pending.write(self._connection)
        except (redis.RedisError, OSError) as exc:
            with self._lock:
                self._pending.merge(pending)
            log.warning("webhook latency not recorded yet", error=type(exc).__name__)
            return False
        return True

    def _write_forever(self) -> None:
        while True:
            time.sleep(self._interval)
            try:
                self.flush()
            except Exception:  # a metric must never end the thread that keeps the others flowing
                log.exception("webhook latency writer failed; trying again")


def render_metrics(session: Session, connection: redis.Redis, now: datetime) -> bytes:
    """Every metric in Prometheus' text exposition format, read now (a registry of this scrape alone)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TerugbelCollector(session, connection, now))
    return generate_latest(registry)


def metrics_endpoint() -> Response:
    """Prometheus scrape target: needs `Authorization: Bearer <token>` of a supervisor or admin token."""
    runtime: Runtime = current_app.extensions["terugbel"]
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return Response("a bearer token is required\n", status=401, headers={"WWW-Authenticate": "Bearer"})
    with runtime.db.session() as session:
        identity = identify_token(session, secret.strip(), runtime.clock.now())
        if identity is None:
            return Response("the token is unknown or revoked\n", status=401, headers={"WWW-Authenticate": "Bearer"})
        if not identity.role.includes(Role.SUPERVISOR):
            return Response("this needs the supervisor role\n", status=403)
        current_app.extensions[_RECORDER].flush()  # this process's latest answers count too
        body = render_metrics(session, runtime.redis, runtime.clock.now())
    return Response(body, content_type=CONTENT_TYPE)


def _start_webhook_timer() -> None:
    if request.path.startswith("/twilio/"):
        g.webhook_started = time.perf_counter()


def _stop_webhook_timer(response: Response) -> Response:
    started = g.pop("webhook_started", None)
    if started is not None:
        recorder: LatencyRecorder = current_app.extensions[_RECORDER]
        recorder.record(request.endpoint or "unknown", time.perf_counter() - started)
    return response


_RECORDER = "terugbel.latency_recorder"


def install(app: App) -> None:
    """Add /metrics and the webhook timer to the app."""
    runtime: Runtime = app.extensions["terugbel"]
    app.extensions[_RECORDER] = LatencyRecorder(runtime.redis)
    app.add_url_rule("/metrics", endpoint="prometheus_metrics", view_func=metrics_endpoint)
    app.before_request(_start_webhook_timer)
    app.after_request(_stop_webhook_timer)


@bp.record_once
def _install_on_registration(state: BlueprintSetupState) -> None:
    install(state.app)
