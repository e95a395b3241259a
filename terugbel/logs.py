"""Structured logs with the CallSid bound where known; phone numbers masked, transcripts never logged."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from terugbel.phone import mask
from terugbel.settings import Settings

# Keys whose values are personal data: dropped from every log line, whoever passes them.
_SECRET_KEYS = {"transcript", "speech", "speech_result", "body", "words", "name", "password", "token"}
_NUMBER_KEYS = {"number", "from_", "from", "to", "caller", "phone"}
_E164 = re.compile(r"\+\d{8,15}")


def mask_numbers(text: str) -> str:
    """The text with every E.164 number in it masked."""
    return _E164.sub(lambda m: mask(m.group(0)), text)


# Free text a log line may carry: the message, and an exception's text (a database error names the
# values it was given, and PostgreSQL's detail the key that clashed: a caller's number).
_TEXT_KEYS = ("event", "exception", "stack")


def _mask_personal_data(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key in _SECRET_KEYS:
            event[key] = "[redacted]"
        elif key in _NUMBER_KEYS and isinstance(event[key], str):
            event[key] = mask(event[key])
    for key in _TEXT_KEYS:
        text = event.get(key)
        if isinstance(text, str):
            event[key] = mask_numbers(text)
    return event


class _MaskNumbersFilter(logging.Filter):
    """Masks numbers in what other libraries log through the standard library (Flask, RQ, gunicorn),
    the message and the exception's text alike."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: logging reports that itself
            return True
        record.msg, record.args = mask_numbers(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_numbers(record.exc_text)
        return True


def configure_logging(level: int = logging.INFO, *, json: bool = False) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_MaskNumbersFilter())
    # Alembic narrates every plugin and step at INFO; operators want only problems from it.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The twilio client dumps every request and response at INFO: noise, and it can carry numbers.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,  # the exception as text, so that it can be masked
            _mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def configure_logging_for(settings: Settings) -> None:
    """Configure logging as TERUGBEL_LOG_FORMAT and TERUGBEL_LOG_LEVEL ask (web, worker and CLI)."""
    configure_logging(settings.log_level, json=settings.log_format == "json")


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def bind_call(call_sid: str | None) -> None:
    """Bind the CallSid to every log line of this request or job."""
    structlog.contextvars.clear_contextvars()
    if call_sid:
        structlog.contextvars.bind_contextvars(call_sid=call_sid)
