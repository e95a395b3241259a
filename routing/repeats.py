"""What makes a contact a repeat (docs/product-rules.md, rule 5): one definition for routing and for the numbers."""

from __future__ import annotations

from datetime import timedelta

from terugbel.settings import DEFAULT_REPEAT_WINDOW_DAYS

REPEAT_WINDOW_DAYS = DEFAULT_REPEAT_WINDOW_DAYS  # the default; TERUGBEL_REPEAT_WINDOW_DAYS sets it
REPEAT_WINDOW = timedelta(days=REPEAT_WINDOW_DAYS)


def makes_repeat(earlier_intent: str | None, earlier_resolved: bool | None, intent_name: str | None) -> bool:
    """An earlier contact in the window makes a new one a repeat: same intent, or it was left unresolved."""
    return (intent_name is not None and earlier_intent == intent_name) or earlier_resolved is False
