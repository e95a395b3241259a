"""Every /twilio/* request needs Twilio's signature: unsigned and wrongly signed requests get 403."""

from __future__ import annotations

from typing import Any

import pytest

from telephony.signing import SIGNATURE_HEADER
from tests.integration.twilio_requests import signed_post, twiml

ENDPOINTS = [
    "/twilio/voice",
    "/twilio/voice/gather",
    "/twilio/voice/status",
    "/twilio/voice/fallback",
    "/twilio/voice/wait",
    "/twilio/voice/wait/choice",
    "/twilio/voice/queue-result",
    "/twilio/voice/connect/1",
    "/twilio/voice/connect/1/done",
    "/twilio/voice/whisper/1",
    "/twilio/voice/whisper/1/accept",
    "/twilio/sms",
]
CALL = {"CallSid": "CA" + "1" * 32, "From": "+31612345678", "To": "+3197010000000", "CallStatus": "ringing"}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_unsigned_request_is_refused(client: Any, path: str) -> None:
    response = client.post(path, data=CALL)
    assert response.status_code == 403


@pytest.mark.parametrize("path", ENDPOINTS)
def test_wrongly_signed_request_is_refused(client: Any, path: str) -> None:
    response = client.post(path, data=CALL, headers={SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"})
    assert response.status_code == 403


def test_signature_over_other_parameters_is_refused(client: Any, settings: Any) -> None:
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(settings.twilio_auth_token).compute_signature(
        "http://localhost/twilio/voice", {**CALL, "From": "+31600000000"}
    )
    response = client.post("/twilio/voice", data=CALL, headers={SIGNATURE_HEADER: signature})
    assert response.status_code == 403


def test_signature_with_another_token_is_refused(client: Any) -> None:
    response = signed_post(client, "not-our-token", "/twilio/voice", CALL)
    assert response.status_code == 403


def test_signed_request_is_answered(client: Any, settings: Any, make_queue: Any) -> None:
    make_queue("algemeen")
    root = twiml(signed_post(client, settings.twilio_auth_token, "/twilio/voice", CALL))
    assert root.find("Gather") is not None


def test_public_base_url_is_what_twilio_signs(runtime: Any, make_queue: Any) -> None:
    """Behind a proxy the app checks the signature over PUBLIC_BASE_URL + path, not its own host."""
    from terugbel.app import create_app

    make_queue("algemeen")
    runtime.settings = runtime.settings.with_overrides(public_base_url="https://ivr.example.nl")
    client = create_app(runtime=runtime).test_client()
    assert signed_post(client, runtime.settings.twilio_auth_token, "/twilio/voice", CALL).status_code == 403
    response = signed_post(
        client, runtime.settings.twilio_auth_token, "/twilio/voice", CALL, base="https://ivr.example.nl"
    )
    assert twiml(response).find("Gather") is not None


def test_proxy_headers_give_the_signed_url(client: Any, settings: Any, make_queue: Any) -> None:
    """Without PUBLIC_BASE_URL, the URL seen through ProxyFix (X-Forwarded-Proto/Host) is checked."""
    from twilio.request_validator import RequestValidator

    make_queue("algemeen")
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(
        "https://public.example.nl/twilio/voice", CALL
    )
    response = client.post(
        "/twilio/voice",
        data=CALL,
        headers={
            SIGNATURE_HEADER: signature,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "public.example.nl",
        },
    )
    assert twiml(response).find("Gather") is not None
