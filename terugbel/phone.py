"""Phone numbers: parsed once at the boundary, stored E.164, masked in logs."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can call or text."""


class NotAMobileNumber(InvalidPhoneNumber):
    """The number is valid but cannot receive text messages."""


class PremiumRateNumber(InvalidPhoneNumber):
    """The number is a premium-rate or shared-cost line: we never call or text those."""


_FORBIDDEN_TYPES = {PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.UAN}


def _parse_valid(raw: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        parsed = phonenumbers.parse((raw or "").strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(str(exc)) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("not a valid number")
    return parsed


def to_e164(raw: str, region: str = "NL") -> str:
    """Parse `raw` as a number in `region` (when it has no +country) and return E.164."""
    return phonenumbers.format_number(_parse_valid(raw, region), PhoneNumberFormat.E164)


_TEXTABLE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def callable_number(raw: str, region: str = "NL", *, needs_sms: bool = False) -> str:
    """Return E.164 for a number we may dial (and text, if asked); refuse premium ranges."""
    parsed = _parse_valid(raw, region)  # once: every booking and every refusal checks its number
    kind = phonenumbers.number_type(parsed)
    if kind in _FORBIDDEN_TYPES:
        raise PremiumRateNumber("premium-rate and shared-cost numbers are refused")
    if needs_sms and kind not in _TEXTABLE_TYPES:
        raise NotAMobileNumber("this number cannot receive text messages")
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    _remember(e164, (kind, parsed))  # the booking that follows asks whether it can text it
    return e164


# A booking asks a stored number's kind and display form several times (the check, whether to
# text it, the confirmation); parsing and typing it cost a tenth of a millisecond each time.
_facts: dict[str, tuple[int, phonenumbers.PhoneNumber]] = {}
_MAX_FACTS = 4096


def _remember(e164: str, facts: tuple[int, phonenumbers.PhoneNumber]) -> None:
    if len(_facts) >= _MAX_FACTS:
        _facts.clear()  # a bound, not a cache policy: callers rarely return within thousands of others
    _facts[e164] = facts


def _stored_number(e164: str) -> tuple[int, phonenumbers.PhoneNumber]:
    facts = _facts.get(e164)
    if facts is None:
        parsed = phonenumbers.parse(e164)
        facts = (phonenumbers.number_type(parsed), parsed)
        _remember(e164, facts)
    return facts


def can_text(e164: str) -> bool:
    """Return whether the number can receive an SMS (a landline booked with needs_sms=False cannot)."""
    return _stored_number(e164)[0] in _TEXTABLE_TYPES


def display_number(e164: str) -> str:
    """The number as a caller reads it in a text: international format (`+31 6 12345678`)."""
    return phonenumbers.format_number(_stored_number(e164)[1], PhoneNumberFormat.INTERNATIONAL)


# What Twilio and carriers put in From when the caller's number is withheld or unknown: the words,
# and the digits that spell ANONYMOUS, RESTRICTED, BLOCKED, UNKNOWN on a keypad, with and without "+"
# (without it, "266696687" would parse as a Dutch number in Arnhem).
_WITHHELD_DIGITS = ("266696687", "7378742833", "2562533", "8656696")
WITHHELD_CALLER_IDS = {
    "anonymous",
    "restricted",
    "unknown",
    "blocked",
    *_WITHHELD_DIGITS,
    *(f"+{digits}" for digits in _WITHHELD_DIGITS),
}


# What stays of a number its owner asked us to forget (privacy/erasure.py): nothing.
ERASED_NUMBER = ""


# One webhook asks for the same number's E.164 and region several times (caller lookup, open
# promise, time zone, routing region); parsing costs a tenth of a millisecond each time.
@lru_cache(maxsize=4096)
def try_e164(raw: str | None, region: str = "NL") -> str | None:
    """E.164 for a number from the network, or None for withheld or unparseable callers.

    The network already connected this number, so a possible number is enough: new and test ranges
    that libphonenumber does not know as assigned are still the caller's real number.
    """
    if not raw or raw.strip().lower() in WITHHELD_CALLER_IDS:
        return None
    try:
        parsed = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def region_of(e164: str) -> str | None:
    """The ISO region a stored E.164 number belongs to (NL, BE, GB…), or None."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None


def dialling_region(e164: str | None) -> str | None:
    """The number's region; for numbers libphonenumber does not know as assigned, its country's."""
    if not e164:
        return None
    region = region_of(e164)
    if region is not None:
        return region
    try:
        country_code = phonenumbers.parse(e164).country_code
    except phonenumbers.NumberParseException:
        return None
    if country_code is None:
        return None
    return phonenumbers.region_code_for_country_code(country_code)


# Where Dutch is spoken: the Netherlands, Flanders and Suriname.
DUTCH_SPEAKING_REGIONS = frozenset({"NL", "BE", "SR"})


def language_for_number(e164: str | None) -> str:
    """The language a number suggests: Dutch for NL, BE and SR (and withheld numbers), else English."""
    region = dialling_region(e164)
    return "nl" if region is None or region in DUTCH_SPEAKING_REGIONS else "en"


def mask(number: str | None) -> str:
    """Keep the country and first digits for debugging, hide the subscriber (`+3161234****`)."""
    if not number:
        return "-"
    return number[:-4] + "****" if len(number) > 6 else "****"


def spoken_digits(e164: str) -> str:
    """Digits separated by spaces so a text-to-speech voice reads them one by one."""
    national = phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL)
    return " ".join(ch for ch in national if ch.isdigit())
