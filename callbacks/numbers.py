"""The number a callback goes to: checked once, and refused with a reason the caller understands.

No database here: the phone menu checks a number the caller types before anything is booked, with
the same reasons the booking, the web form and the API give.
"""

from __future__ import annotations

from callbacks.errors import UnusableNumber
from terugbel.i18n import message_id
from terugbel.phone import InvalidPhoneNumber, NotAMobileNumber, PremiumRateNumber, callable_number


def check_number(raw: str, region: str = "NL", *, needs_sms: bool = True) -> str:
    """Return the E.164 number to call, or raise UnusableNumber with the reason for the caller."""
    try:
        return callable_number(raw, region, needs_sms=needs_sms)
    except PremiumRateNumber as exc:
        raise UnusableNumber(message_id("cb_number_premium"), str(exc)) from None
    except NotAMobileNumber as exc:
        raise UnusableNumber(message_id("cb_number_not_mobile"), str(exc)) from None
    except InvalidPhoneNumber as exc:
        raise UnusableNumber(message_id("cb_number_invalid"), str(exc)) from None
