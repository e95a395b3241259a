"""The one interface the product uses to reach the phone network.

`callbacks` and `ivr` depend on `Telephony`, never on the twilio client: the Twilio adapter
(telephony/twilio_adapter.py) implements it, pointed at api.twilio.com or at the simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol


class TelephonyError(Exception):
    """The network refused or failed a request."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class RetryableTelephonyError(TelephonyError):
    """Worth trying again later: rate limited (20429, HTTP 429) or a server error (5xx), a timeout."""


class PermanentTelephonyError(TelephonyError):
    """Trying again will not help: an invalid number (21211, 21614...), a blocked destination."""


class InvalidNumberError(PermanentTelephonyError):
    """The number cannot be called or texted."""


class OptedOutError(PermanentTelephonyError):
    """The number texted STOP: the network refuses texts to it until it texts START (21610)."""


MachineDetection = Literal["Enable", "DetectMessageEnd"]


@dataclass(frozen=True)
class OutboundCall:
    to: str
    from_: str
    url: str  # TwiML for the callee, fetched when the call is answered
    status_callback: str | None = None
    status_callback_events: Sequence[str] = ("initiated", "ringing", "answered", "completed")
    machine_detection: MachineDetection | None = None
    async_amd: bool = False
    async_amd_status_callback: str | None = None
    timeout_seconds: int = 30
    time_limit_seconds: int | None = None
    fallback_url: str | None = None


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str


@dataclass(frozen=True)
class CallRecord:
    """What the network knows about a call (for reconciling a crashed attempt)."""

    sid: str
    status: str  # queued, ringing, in-progress, completed, busy, no-answer, failed, canceled
    to: str
    from_: str
    duration_seconds: int | None = None
    answered_by: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


class Telephony(Protocol):
    def place_call(self, call: OutboundCall) -> PlacedCall:
        """Start an outbound call; raise RetryableTelephonyError or PermanentTelephonyError."""
        ...

    def redirect_call(self, call_sid: str, *, url: str | None = None, twiml: str | None = None) -> None:
        """Make a live call continue with new TwiML (from a URL or inline)."""
        ...

    def end_call(self, call_sid: str) -> None:
        """Hang up a live call (or cancel a queued or ringing one)."""
        ...

    def fetch_call(self, call_sid: str) -> CallRecord:
        """What the network knows about a call."""
        ...

    def send_sms(self, to: str, body: str, *, status_callback: str | None = None) -> SentMessage:
        """Send a text message."""
        ...

    def find_sent_sms(self, to: str, body: str, since: datetime) -> SentMessage | None:
        """A text with this body that we sent to `to` at or after `since`, if the network has one."""
        ...
