"""The simulator signs requests exactly as Twilio does (Twilio's published test vector)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from telephony.signing import is_signed_by_twilio, sign_request

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_signature_reproduces_twilios_published_vector() -> None:
    assert sign_request("12345", VECTOR_URL, VECTOR_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_vector_validates_and_a_changed_parameter_does_not() -> None:
    assert is_signed_by_twilio("12345", VECTOR_URL, VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    tampered = dict(VECTOR_PARAMS, Digits="1235")
    assert not is_signed_by_twilio("12345", VECTOR_URL, tampered, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=30), max_size=6))
def test_any_signed_form_validates_with_the_same_token_only(params: dict[str, str]) -> None:
    url = "https://app.example/twilio/voice"
    signature = sign_request("token-a", url, params)
    assert is_signed_by_twilio("token-a", url, params, signature)
    assert not is_signed_by_twilio("token-b", url, params, signature)
