"""How the console writes times, windows and durations, in the user's language and the site's zone."""

from __future__ import annotations

from datetime import datetime

from babel.dates import get_day_names

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


def weekday_names(lang: str) -> list[str]:
    """Monday first, in the user's language: ["maandag", "dinsdag", …]."""
    names = get_day_names("wide", locale=lang)
    return [str(names[day]) for day in range(7)]


def share_as_percent(share: float) -> str:
    """The number a percentage field shows for a share: "30" for 0.3, "12.5" for 0.125."""
    return f"{share * 100:.1f}".removesuffix(".0")


def percent_as_share(raw: str) -> str:
    """A typed percentage ("30", "30 %", "12,5") as the share the domain takes ("0.3"); text that is
    no number is passed on unchanged, so the domain's check refuses it."""
    cleaned = raw.strip().removesuffix("%").strip().replace(",", ".")
    try:
        return repr(float(cleaned) / 100)
    except ValueError:
        return raw
