"""Property test: arbitrary, missing and oversized Twilio parameters never make a /twilio/* endpoint fail.

Every answer is valid TwiML (a <Response> document) or a 4xx — never a 5xx, never a dead line.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.twilio_requests import signed_post

ENDPOINTS = [
    "/twilio/voice",
    "/twilio/voice/gather",
    "/twilio/voice/wait",
    "/twilio/voice/wait/choice",
    "/twilio/voice/queue-result",
    "/twilio/voice/status",
    "/twilio/voice/fallback",
    "/twilio/voice/connect/1",
    "/twilio/voice/connect/1/done",
    "/twilio/voice/whisper/1",
    "/twilio/voice/whisper/1/accept",
    "/twilio/sms",
]
NAMES = [
    "CallSid", "From", "To", "Digits", "SpeechResult", "Confidence", "CallStatus", "SequenceNumber",
    "CallDuration", "QueuePosition", "QueueTime", "QueueResult", "DialCallStatus", "MessageSid", "Body",
]  # fmt: skip
# Twilio sends text; the form encoding carries any printable character but NUL.
TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40)
VALUES = st.one_of(
    TEXT,
    st.sampled_from(["CA" + "a" * 32, "+31612345678", "anonymous", "1", "0", "9", "", "completed", "-1", "nan"]),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.just("x" * 5000),
)
PARAMS = st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=8)


def _check(response: Any) -> None:
    assert response.status_code < 500, response.data[:300]
    if response.status_code == 200:
        assert response.content_type.startswith("text/xml")
        assert ET.fromstring(response.data).tag == "Response"
    else:
        assert 400 <= response.status_code < 500


@settings(max_examples=60)
@given(path=st.sampled_from(ENDPOINTS), params=PARAMS)
def test_any_parameters_give_twiml_or_a_4xx(
    client: Any, settings: Any, make_queue: Any, path: str, params: dict[str, str]
) -> None:
    _check(signed_post(client, settings.twilio_auth_token, path, params))


@settings(max_examples=25)
@given(params=PARAMS, steps=st.lists(st.sampled_from(ENDPOINTS[1:]), min_size=1, max_size=4))
def test_a_started_call_survives_any_sequence(
    client: Any, settings: Any, make_queue: Any, params: dict[str, str], steps: list[str]
) -> None:
    token = settings.twilio_auth_token
    call = {"CallSid": "CA" + "c" * 32, "From": "+31612345678"}
    _check(signed_post(client, token, "/twilio/voice", call))
    for path in steps:
        _check(signed_post(client, token, path, {**params, **call}))
