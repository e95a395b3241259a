"""How the console writes times, windows and durations, in the user's language and the site's zone."""

from __future__ import annotations

from datetime import datetime

from terugbel.i18n import format_moment, format_window


def window_text(start: datetime, end: datetime, zone: str, lang: str, now: datetime) -> str:
    """ "vandaag tussen 14:30 en 14:45" / "tomorrow between 09:00 and 09:15"."""
    return format_window(start, end, zone, lang, now)


def moment_text(moment: datetime | None, zone: str, lang: str, now: datetime) -> str:
    """ "vandaag om 14:30" / "Monday 30 November at 09:15"; empty for no moment."""
    if moment is None:
        return ""
    return format_moment(moment, zone, lang, now)


def duration_text(seconds: float | None) -> str:
    """ "4 min 05 s" for 245 seconds; "–" when unknown."""
    if seconds is None:
        return "–"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, rest = divmod(total, 60)
    return f"{minutes} min {rest:02d} s"


def percent_text(share: float | None) -> str:
    """ "83%" for 0.834; "–" when there is nothing to divide."""
    return "–" if share is None else f"{share * 100:.0f}%"
