"""Requests checked against Twilio's published OpenAPI description (vendored with the simulator)."""

from __future__ import annotations

import pytest

from telephony.simulator.errors import ApiError
from telephony.simulator.openapi import SpecValidator

CALLS = "/2010-04-01/Accounts/{AccountSid}/Calls.json"
MESSAGES = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
GOOD = {"To": ["+31612345678"], "From": ["+3197010000000"], "Url": ["https://app.example/twilio/outbound"]}


@pytest.fixture(scope="module")
def spec() -> SpecValidator:
    return SpecValidator.from_file()


def test_a_good_call_passes_with_repeated_status_callback_events(spec: SpecValidator) -> None:
    spec.validate(
        CALLS,
        "post",
        {
            **GOOD,
            "StatusCallbackEvent": ["initiated", "answered", "completed"],
            "MachineDetection": ["DetectMessageEnd"],
            "Timeout": ["30"],
        },
    )


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"Colour": ["red"]}, 20001),  # a name Twilio does not know
        ({"Method": ["PUT"]}, 21209),  # enum of http methods
        ({"Timeout": ["soon"]}, 400),  # integer
        ({"Record": ["maybe"]}, 400),  # boolean
        ({"Url": ["a", "b"]}, 400),  # not an array
        ({"Byoc": ["BY123"]}, 400),  # pattern and length
    ],
)
def test_values_the_description_does_not_allow(spec: SpecValidator, extra: dict[str, list[str]], code: int) -> None:
    with pytest.raises(ApiError) as caught:
        spec.validate(CALLS, "post", {**GOOD, **extra})
    assert caught.value.code == code and caught.value.status == 400


def test_required_fields_and_the_url_twiml_application_rule(spec: SpecValidator) -> None:
    with pytest.raises(ApiError, match="From"):
        spec.validate(CALLS, "post", {"To": GOOD["To"], "Url": GOOD["Url"]})
    with pytest.raises(ApiError, match="Url, Twiml, ApplicationSid"):
        spec.validate(CALLS, "post", {"To": GOOD["To"], "From": GOOD["From"]})
    spec.validate(CALLS, "post", {"To": GOOD["To"], "From": GOOD["From"], "Twiml": ["<Response/>"]})


def test_messages(spec: SpecValidator) -> None:
    spec.validate(
        MESSAGES,
        "post",
        {
            "To": ["+31612345678"],
            "From": ["+3197010000000"],
            "Body": ["hallo"],
            "StatusCallback": ["https://app.example/sms-status"],
        },
    )
    with pytest.raises(ApiError):
        spec.validate(MESSAGES, "post", {"From": ["+3197010000000"], "Body": ["hallo"]})
