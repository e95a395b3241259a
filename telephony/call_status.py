"""Twilio's call statuses: which ones mean a call is over."""

from __future__ import annotations

FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def is_final_status(call_status: str | None) -> bool:
    """Whether a CallStatus means the call is over (it will not change again)."""
    return call_status in FINAL_CALL_STATUSES
