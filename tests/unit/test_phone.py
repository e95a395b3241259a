import pytest
from hypothesis import given
from hypothesis import strategies as st

from terugbel.phone import (
    InvalidPhoneNumber,
    NotAMobileNumber,
    PremiumRateNumber,
    callable_number,
    language_for_number,
    mask,
    to_e164,
    try_e164,
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("06 1234 5678", "NL", "+31612345678"),
        ("+31 6 1234 5678", "GB", "+31612345678"),
        ("0031612345678", "NL", "+31612345678"),
        ("07911 123456", "GB", "+447911123456"),
        ("+32 470 12 34 56", "NL", "+32470123456"),
    ],
)
def test_numbers_are_stored_as_e164(raw: str, region: str, expected: str) -> None:
    assert to_e164(raw, region) == expected


def test_withheld_and_garbage_callers_are_anonymous_not_errors() -> None:
    assert try_e164(None) is None
    assert try_e164("anonymous") is None
    assert try_e164("+266696687") is None  # Twilio's "withheld" placeholder
    assert try_e164("+447700900123") == "+447700900123"  # a fictional-use range still identifies the caller


def test_premium_and_landline_numbers_are_refused_for_texts() -> None:
    with pytest.raises(PremiumRateNumber):
        callable_number("0906 123 4567", "NL")
    with pytest.raises(NotAMobileNumber):
        callable_number("020 123 4567", "NL", needs_sms=True)
    assert callable_number("020 123 4567", "NL") == "+31201234567"


@given(st.text(max_size=40))
def test_parsing_never_crashes_on_arbitrary_text(raw: str) -> None:
    """Any text either parses to E.164 or raises the domain error, never anything else."""
    try:
        parsed = to_e164(raw)
    except InvalidPhoneNumber:
        return
    assert parsed.startswith("+") and parsed[1:].isdigit()


@given(st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True))
def test_mask_never_reveals_the_subscriber_part(number: str) -> None:
    masked = mask(number)
    assert masked.endswith("****")
    assert number[-4:] not in masked[-4:] or number[-4:] == "****"
    assert len(masked) == len(number)


def test_the_language_a_number_suggests() -> None:
    assert language_for_number("+31612345678") == "nl"
    assert language_for_number("+32470123456") == "nl"
    assert language_for_number("+5978123456") == "nl"  # Suriname speaks Dutch
    assert language_for_number("+447700900123") == "en"
    assert language_for_number(None) == "nl"  # withheld: the country's language
