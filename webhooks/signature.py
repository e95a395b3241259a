"""Twilio's X-Twilio-Signature on every /twilio/* request (DESIGN.md §3): missing or wrong -> 403."""

from __future__ import annotations

from flask import Request
from twilio.request_validator import RequestValidator

from telephony.signing import SIGNATURE_HEADER


def signed_url(request: Request, public_base_url: str | None) -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path (+ query) when set, else the URL seen through ProxyFix."""
    if not public_base_url:
        return request.url
    query = request.query_string.decode("latin-1")
    return f"{public_base_url.rstrip('/')}{request.path}" + (f"?{query}" if query else "")


def has_valid_signature(request: Request, auth_token: str | None, public_base_url: str | None) -> bool:
    """Whether the request carries the signature Twilio computes with our auth token."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature or not auth_token:
        return False
    # The form as a MultiDict: Twilio signs every value of a repeated parameter.
    params = request.form if request.method == "POST" else {}
    try:
        return bool(RequestValidator(auth_token).validate(signed_url(request, public_base_url), params, signature))
    except (ValueError, TypeError, UnicodeError):
        return False
