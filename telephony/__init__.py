"""The port to the phone network: the Twilio REST adapter, and the simulator that plays Twilio."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

if TYPE_CHECKING:
    from telephony.port import Telephony
    from terugbel.settings import Settings

TWILIO_API_ORIGIN = "https://api.twilio.com"


class RebasedHttpClient(TwilioHttpClient):
    """The official http client, sending api.twilio.com requests to another origin (the simulator)."""

    def __init__(self, base_url: str, timeout: float | None = 10.0) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(  # type: ignore[override]
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


def build_telephony(settings: Settings) -> Telephony:
    """The Telephony the settings ask for: Twilio itself, or the simulator at twilio_api_base_url."""
    from telephony.twilio_adapter import TwilioTelephony

    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number):
        raise ValueError("Twilio account SID, auth token and from number are required")
    http_client = RebasedHttpClient(settings.twilio_api_base_url) if settings.twilio_api_base_url else None
    return TwilioTelephony(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_from_number,
        http_client=http_client,
    )
