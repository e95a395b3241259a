"""`/metrics` in Prometheus' text format, behind an API token (supervisor role or higher).

Rendered by hand (the text format is a few lines per metric) rather than with prometheus_client,
whose process-local registry would need multiprocess mode under gunicorn. Webhook latency is
tallied in each web process and added to one histogram in Redis by a background thread, so every
web process adds to the same histogram and no caller ever waits for a metric.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

import redis
from flask import Response, current_app, g, request
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callbacks.models import CallbackPromise, PromiseState
from console.blueprint import bp
from console.jobs_overview import rq_overview
from console.models import Role
from console.tokens import identify_token
from terugbel.logs import get_logger
from terugbel.redis_conn import as_text
from terugbel.runtime import Runtime

log = get_logger(__name__)

# Per-bucket counts (not cumulative: three commands per webhook instead of eleven), summed on render.
LATENCY_KEY = "terugbel:metrics:webhook_latency:buckets"
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DIAL_DELAY_BUCKETS = (0, 60, 300, 600, 900, 1800, 3600)  # seconds after the window opened
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


def render_metrics(session: Session, connection: redis.Redis, now: datetime) -> str:
    """Every metric in Prometheus' text exposition format."""
    lines: list[str] = []
    lines += _latency_lines(connection)
    lines += _histogram(
        "terugbel_callback_first_dial_delay_seconds",
        "Seconds from the opening of a callback's window to its first dial.",
        {},
        _first_dial_delays(session),
        DIAL_DELAY_BUCKETS,
    )
    late = session.scalar(
        select(func.count()).where(
            CallbackPromise.first_dial_at.is_not(None), CallbackPromise.first_dial_at > CallbackPromise.window_end
        )
    )
    lines += [
        "# HELP terugbel_callbacks_late_total Callbacks first dialled after their window ended.",
        "# TYPE terugbel_callbacks_late_total counter",
        f"terugbel_callbacks_late_total {int(late or 0)}",
    ]
    counts = dict(session.execute(select(CallbackPromise.state, func.count()).group_by(CallbackPromise.state)).all())
    lines += ["# HELP terugbel_promises Callback promises by state.", "# TYPE terugbel_promises gauge"]
    lines += [f'terugbel_promises{{state="{state.value}"}} {counts.get(state.value, 0)}' for state in PromiseState]
    lines += ["# HELP terugbel_jobs RQ jobs by queue and status.", "# TYPE terugbel_jobs gauge"]
    for queue in rq_overview(connection):
        for status, count in (
            ("queued", queue.queued),
            ("scheduled", queue.scheduled),
            ("started", queue.started),
            ("failed", queue.failed),
        ):
            lines.append(f'terugbel_jobs{{queue="{queue.name}",status="{status}"}} {count}')
    lines += [
        "# HELP terugbel_metrics_generated_at_seconds When these numbers were read.",
        "# TYPE terugbel_metrics_generated_at_seconds gauge",
        f"terugbel_metrics_generated_at_seconds {now.timestamp():.0f}",
    ]
    return "\n".join(lines) + "\n"


def _first_dial_delays(session: Session) -> list[float]:
    rows = session.execute(
        select(CallbackPromise.window_start, CallbackPromise.first_dial_at).where(
            CallbackPromise.first_dial_at.is_not(None)
        )
    ).all()
    # Every row has a first dial (the query asks for those); the test tells the type checker.
    return [max(0.0, (dialled - start).total_seconds()) for start, dialled in rows if dialled is not None]


def _histogram(
    name: str, help_text: str, labels: dict[str, str], values: Sequence[float], buckets: Iterable[float]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    base = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{base}," if base else ""
    for bound in buckets:
        lines.append(f'{name}_bucket{{{prefix}le="{_number(bound)}"}} {sum(1 for v in values if v <= bound)}')
    lines.append(f'{name}_bucket{{{prefix}le="+Inf"}} {len(values)}')
    suffix = f"{{{base}}}" if base else ""
    lines.append(f"{name}_sum{suffix} {sum(values):.3f}")
    lines.append(f"{name}_count{suffix} {len(values)}")
    return lines


def _latency_lines(connection: redis.Redis) -> list[str]:
    name = "terugbel_webhook_request_duration_seconds"
    lines = [f"# HELP {name} Time to answer a Twilio webhook.", f"# TYPE {name} histogram"]
    try:
        raw = {as_text(k): as_text(v) for k, v in connection.hgetall(LATENCY_KEY).items()}
    except redis.RedisError:
        return lines
    endpoints = sorted({field.split("|", 1)[0] for field in raw})
    for endpoint in endpoints:
        cumulative = 0
        for bound in LATENCY_BUCKETS:
            cumulative += int(raw.get(f"{endpoint}|{bound}", "0"))
            lines.append(f'{name}_bucket{{endpoint="{endpoint}",le="{_number(bound)}"}} {cumulative}')
        total = raw.get(f"{endpoint}|count", "0")
        lines.append(f'{name}_bucket{{endpoint="{endpoint}",le="+Inf"}} {total}')
        lines.append(f'{name}_sum{{endpoint="{endpoint}"}} {float(raw.get(f"{endpoint}|sum", "0")):.4f}')
        lines.append(f'{name}_count{{endpoint="{endpoint}"}} {total}')
    return lines


def _number(value: float) -> str:
    return f"{value:g}"


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
