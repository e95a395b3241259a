"""Twilio's call statuses: which ones end a call."""

from __future__ import annotations

FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def is_final_status(call_status: str | None) -> bool:
    """Return whether a call with this status is over (no later status follows)."""
    return call_status in FINAL_CALL_STATUSES
