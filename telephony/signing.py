"""Twilio's request signature (X-Twilio-Signature), computed and checked with the official validator."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


def sign_request(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio sends for a POST of `params` to `url` (GET: pass no params)."""
    return RequestValidator(auth_token).compute_signature(url, dict(params))


def is_signed_by_twilio(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Whether `signature` is what Twilio would send for this request."""
    return RequestValidator(auth_token).validate(url, dict(params), signature)
