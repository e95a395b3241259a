"""`Telephony` over Twilio's REST API with the official client.

The same adapter talks to api.twilio.com or to the simulator: only the http client differs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from telephony.port import (
    CallRecord,
    InvalidNumberError,
    OptedOutError,
    OutboundCall,
    PermanentTelephonyError,
    PlacedCall,
    RetryableTelephonyError,
    SentMessage,
    Telephony,
    TelephonyError,
)

if TYPE_CHECKING:
    from terugbel.settings import Settings

T = TypeVar("T")
TWILIO_API_ORIGIN = "https://api.twilio.com"

# Twilio error codes that say "this number will never work": invalid, not mobile, unsubscribed,
# not reachable, geo-permission refused, landline for SMS.
INVALID_NUMBER_CODES = frozenset(
    {
        13223,
        13224,
        21210,
        21211,
        21212,
        21214,
        21215,
        21216,
        21217,
        21401,
        21407,
        21408,
        21421,
        21601,
        21604,
        21612,
        21614,
    }
)
UNSUBSCRIBED_RECIPIENT = 21610  # the number texted STOP
RETRYABLE_CODES = frozenset({20429, 20500, 20503, 31005})


def telephony_error_from(exc: TwilioRestException) -> TelephonyError:
    """Translate a REST exception into the domain error that says what the caller of the port can do."""
    code = exc.code if isinstance(exc.code, int) else None
    message = f"Twilio {exc.status} {code or ''}: {exc.msg}".strip()
    if code in RETRYABLE_CODES or exc.status == 429 or exc.status >= 500:
        return RetryableTelephonyError(message, code=code, status=exc.status)
    if code == UNSUBSCRIBED_RECIPIENT:
        return OptedOutError(message, code=code, status=exc.status)
    if code in INVALID_NUMBER_CODES:
        return InvalidNumberError(message, code=code, status=exc.status)
    return PermanentTelephonyError(message, code=code, status=exc.status)


class TwilioTelephony:
    """Place, steer and end calls and send SMS through Twilio (or the simulator playing Twilio)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        http_client: HttpClient | None = None,
        on_api_error: Callable[[int], None] | None = None,
    ) -> None:
        self.from_number = from_number
        self._on_api_error = on_api_error  # told the HTTP status of every error Twilio answers
        self.client = Client(account_sid, auth_token, http_client=http_client)

    def place_call(self, call: OutboundCall) -> PlacedCall:
        options: dict[str, object] = {
            "to": call.to,
            "from_": call.from_ or self.from_number,
            "url": call.url,
            "timeout": call.timeout_seconds,
        }
        if call.status_callback:
            options["status_callback"] = call.status_callback
            options["status_callback_event"] = list(call.status_callback_events)
            options["status_callback_method"] = "POST"
        if call.machine_detection:
            options["machine_detection"] = call.machine_detection
            if call.async_amd:
                options["async_amd"] = "true"
                if call.async_amd_status_callback:
                    options["async_amd_status_callback"] = call.async_amd_status_callback
                    options["async_amd_status_callback_method"] = "POST"
        if call.time_limit_seconds:
            options["time_limit"] = call.time_limit_seconds
        if call.fallback_url:
            options["fallback_url"] = call.fallback_url
        created = self._do(lambda: self.client.calls.create(**options))
        return PlacedCall(sid=created.sid, status=created.status)

    def redirect_call(self, call_sid: str, *, url: str | None = None, twiml: str | None = None) -> None:
        if (url is None) == (twiml is None):
            raise ValueError("give exactly one of url or twiml")
        if url is not None:
            self._do(lambda: self.client.calls(call_sid).update(url=url, method="POST"))
        else:
            self._do(lambda: self.client.calls(call_sid).update(twiml=twiml))

    def end_call(self, call_sid: str) -> None:
        current = self.fetch_call(call_sid)
        # Twilio refuses "completed" for a call that has not been answered yet: cancel those instead.
        status = "canceled" if current.status in {"queued", "ringing"} else "completed"
        if current.status in {"completed", "busy", "no-answer", "failed", "canceled"}:
            return
        self._do(lambda: self.client.calls(call_sid).update(status=status))

    def fetch_call(self, call_sid: str) -> CallRecord:
        call = self._do(lambda: self.client.calls(call_sid).fetch())
        return CallRecord(
            sid=call.sid,
            status=call.status,
            to=call.to,
            from_=call._from,
            duration_seconds=int(call.duration) if call.duration not in (None, "") else None,
            answered_by=call.answered_by,
            extra={"direction": call.direction or "", "parent_call_sid": call.parent_call_sid or ""},
        )

    def send_sms(self, to: str, body: str, *, status_callback: str | None = None) -> SentMessage:
        options: dict[str, object] = {"to": to, "from_": self.from_number, "body": body}
        if status_callback:
            options["status_callback"] = status_callback
        message = self._do(lambda: self.client.messages.create(**options))
        return SentMessage(sid=message.sid, status=message.status)

    def find_sent_sms(self, to: str, body: str, since: datetime) -> SentMessage | None:
        # Newest first; a sender that died mid-send did so minutes ago, so one page is plenty.
        recent = self._do(lambda: self.client.messages.list(to=to, from_=self.from_number, limit=50))
        for message in recent:
            if message.body == body and message.date_created is not None and message.date_created >= since:
                return SentMessage(sid=message.sid, status=message.status)
        return None

    def _do(self, request: Callable[[], T]) -> T:
        try:
            return request()
        except TwilioRestException as exc:
            if self._on_api_error is not None:
                self._on_api_error(exc.status)
            raise telephony_error_from(exc) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableTelephonyError(f"network error talking to Twilio: {type(exc).__name__}") from exc
        except TwilioException as exc:
            raise RetryableTelephonyError(f"Twilio client error: {exc}") from exc


class RebasedHttpClient(TwilioHttpClient):
    """The official http client, sending api.twilio.com requests to another origin (the simulator)."""

    def __init__(self, base_url: str, timeout: float | None = 10.0) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_API_ORIGIN):
            url = self.base_url + url[len(TWILIO_API_ORIGIN) :]
        return super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def build_telephony(settings: Settings, on_api_error: Callable[[int], None] | None = None) -> Telephony:
    """The Telephony the settings ask for: Twilio itself, or the simulator at twilio_api_base_url.

    `on_api_error` is told the HTTP status of each error answer (the runtime counts them for /metrics).
    """
    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number):
        raise ValueError("Twilio account SID, auth token and from number are required")
    http_client = RebasedHttpClient(settings.twilio_api_base_url) if settings.twilio_api_base_url else None
    return TwilioTelephony(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_from_number,
        http_client=http_client,
        on_api_error=on_api_error,
    )
