"""Requests from the simulated network to the app: signed like Twilio, with Twilio's timeout rules."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from telephony.signing import SIGNATURE_HEADER, sign_request
from terugbel.clock import Clock

HTTP_RETRIEVAL_FAILURE = 11200  # the app answered an HTTP error
HTTP_CONNECTION_FAILURE = 11205  # no answer: refused, reset, or over the timeout
USER_AGENT = "TwilioProxy/1.1"


@dataclass(frozen=True)
class WebhookResult:
    url: str
    method: str
    status: int | None
    body: str
    content_type: str
    error_code: int | None = None
    error_message: str = ""

    @property
    def ok(self) -> bool:
        return self.error_code is None


class WebhookClient:
    """POST (or GET) Twilio's parameters to the app with a valid X-Twilio-Signature."""

    def __init__(self, auth_token: str, clock: Clock, timeout_seconds: float = 15.0) -> None:
        self.auth_token = auth_token
        self.clock = clock
        self.timeout_seconds = timeout_seconds
        self.session = requests.Session()
        self.sent: list[tuple[str, str, dict[str, str]]] = []  # every request: method, url, params

    def request(self, url: str, params: Mapping[str, str], method: str = "POST") -> WebhookResult:
        """Send one webhook; a slow answer (in real or simulated time) counts as a connection failure."""
        method = method.upper()
        fields = {key: str(value) for key, value in params.items() if value is not None}
        if method == "GET":
            url = url + ("&" if "?" in url else "?") + urlencode(sorted(fields.items()))
            signature = sign_request(self.auth_token, url, {})
        else:
            signature = sign_request(self.auth_token, url, fields)
        subject = fields.get("CallSid") or fields.get("MessageSid")
        headers = {SIGNATURE_HEADER: signature, "User-Agent": USER_AGENT,
                   "I-Twilio-Idempotency-Token": f"{subject}-{time.monotonic_ns()}"}
        self.sent.append((method, url, fields))
        started = self.clock.now()
        try:
            if method == "GET":
                response = self.session.get(url, headers=headers, timeout=self.timeout_seconds)
            else:
                response = self.session.post(url, data=fields, headers=headers, timeout=self.timeout_seconds)
        except requests.Timeout:
            return WebhookResult(url, method, None, "", "", HTTP_CONNECTION_FAILURE,
                                 f"Timeout after {self.timeout_seconds:g} s")
        except requests.RequestException as exc:
            return WebhookResult(url, method, None, "", "", HTTP_CONNECTION_FAILURE, type(exc).__name__)
        simulated = (self.clock.now() - started).total_seconds()
        if simulated > self.timeout_seconds:
            return WebhookResult(url, method, response.status_code, "", "", HTTP_CONNECTION_FAILURE,
                                 f"Timeout: the answer took {simulated:g} s")
        content_type = response.headers.get("Content-Type", "")
        if response.status_code >= 400:
            return WebhookResult(url, method, response.status_code, response.text, content_type,
                                 HTTP_RETRIEVAL_FAILURE, f"HTTP {response.status_code}")
        return WebhookResult(url, method, response.status_code, response.text, content_type)
