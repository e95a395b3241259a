"""What a web process or an RQ job needs to act: settings, database, Redis, clock, telephony.

The app factory builds one per web process; RQ jobs call `current_runtime()`, which builds one per
worker process from the environment (or returns the one a test or `terugbel demo` installed).

Two things the domain may not know are handed in by the composition root (`terugbel/wiring.py`):
the webhook URLs a callback's call legs talk to, and the step a due dial job runs (the dial job is
enqueued low in callbacks, by callbacks/scheduling.py, while the step it runs sits above it and
schedules dial jobs again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import redis
from sqlalchemy.orm import Session

from telephony.port import Telephony
from telephony.twilio_adapter import build_telephony
from terugbel.clock import Clock, SystemClock
from terugbel.db import Database
from terugbel.i18n import require_catalogues
from terugbel.redis_conn import connect_redis
from terugbel.settings import Settings, load_settings
from terugbel.tallies import count_twilio_api_error

# Start attempt `attempt` of promise `promise_id`; return what happened (callbacks/agent_leg.py).
StartDial = Callable[["Runtime", int, int], str]
ServeWaitingCallback = Callable[["Runtime", int], bool]
CallbackWaitsFor = Callable[[Session, int, datetime], bool]


@dataclass(frozen=True)
class WebhookUrls:
    """Paths of the webhooks the domain sends live calls to, handed in by the composition root.

    The webhooks own these paths; the domain only fills in ids (`queue_connect` is a `str.format`
    template) or adds a query, and never spells a path itself.
    """

    queue_connect: str  # TwiML that dials the agent reserved for a waiting caller: {queue_entry_id}
    agent_whisper: str  # a callback's agent hears who calls about what, and chooses
    agent_released: str  # a waiting agent hears the caller was not reached
    caller_answer: str  # the callback's caller leg asks what to do (hold, connect, voicemail)
    caller_amd: str  # answering-machine detection's verdict on the caller leg
    leg_status: str  # the status callbacks of both legs of a callback


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: redis.Redis
    clock: Clock = field(default_factory=SystemClock)
    _telephony: Telephony | None = None
    # Handed in by the composition root (terugbel/wiring.py); None until wired.
    urls: WebhookUrls | None = None
    start_dial: StartDial | None = None
    # An agent became free: a callback waiting for one goes first (callbacks/waiting_callbacks.py).
    serve_waiting_callback: ServeWaitingCallback | None = None
    # Is a callback waiting for this free agent? Then a caller in the queue does not take them.
    callback_waits_for: CallbackWaitsFor | None = None

    @property
    def telephony(self) -> Telephony:
        if self._telephony is None:
            self._telephony = build_telephony(self.settings, on_api_error=partial(count_twilio_api_error, self.redis))
        return self._telephony

    @property
    def public_base_url(self) -> str:
        """The app's address as Twilio reaches it: webhook and TwiML URLs start with this."""
        return self.settings.public_base_url or "http://127.0.0.1:5000"

    def url(self, path: str) -> str:
        return f"{self.public_base_url}{path}"

    @property
    def webhook_urls(self) -> WebhookUrls:
        """The webhook paths the composition root handed in; an error when it handed in none."""
        if self.urls is None:
            raise RuntimeError("no webhook URLs: the composition root hands them in (terugbel/wiring.py)")
        return self.urls

    def close(self) -> None:
        """Release database connections and the Redis connection pool."""
        self.db.dispose()
        self.redis.close()


def build_runtime(
    settings: Settings | None = None, *, clock: Clock | None = None, telephony: Telephony | None = None
) -> Runtime:
    settings = settings or load_settings()
    # Before anything runs: a process without compiled catalogues would speak keys, not words.
    require_catalogues()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Runtime(
        settings=settings,
        db=Database(settings.database_url),
        redis=connect_redis(settings),
        clock=clock or SystemClock(),
        _telephony=telephony,
    )


_installed: Runtime | None = None
_lock = threading.Lock()


def install_runtime(runtime: Runtime | None) -> None:
    """Make `runtime` the one RQ jobs in this process use (tests, the demo); None to forget it."""
    global _installed
    with _lock:
        _installed = runtime


def current_runtime() -> Runtime:
    """The runtime for RQ jobs in this process, built from the environment on first use."""
    global _installed
    with _lock:
        if _installed is None:
            _installed = build_runtime()
        return _installed
