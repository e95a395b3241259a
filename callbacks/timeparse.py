"""A time the caller asks for in their own words ("morgen om tien uur", "tomorrow at eleven").

Spoken times are first rewritten to a 24-hour "HH:MM" (number words, "half drie", "quarter past
ten", "10 uur"), because dateparser reads "10 uur" as 19:00 and "at 11" as 09:00; dateparser then
resolves the day ("morgen", "maandag", "tomorrow") relative to now in the caller's zone.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, time
from zoneinfo import ZoneInfo

import dateparser

_NUMBER_WORDS = {
    "nl": {
        "een": 1, "één": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6, "zeven": 7,
        "acht": 8, "negen": 9, "tien": 10, "elf": 11, "twaalf": 12,
    },
    "en": {
        "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    },
}  # fmt: skip

# The words around the time that only ask for the call ("bel me morgen om tien uur terug", "could you
# call me back at ten"): dateparser reads a day from them no better than from the day word alone.
_ASKING = re.compile(
    r"\b(kunt u|wilt u|belt u|bel|terug ?bellen|terug|could you|can you|please|call|ring|back|callback|me|mij|us|ons)\b"
)

# Callers of a contact center mean the afternoon by "om drie uur" / "at three".
_AFTERNOON_BELOW = 8
_MORNING = re.compile(r"\b(am|a\.m\.|ochtend|'s ochtends|morgens|morning|in the morning)\b")
_EVENING = re.compile(r"\b(pm|p\.m\.|middag|'s middags|avond|'s avonds|afternoon|evening)\b")


def parse_requested_time(text: str, lang: str, zone: str, now: datetime) -> datetime | None:
    """Return the moment the caller asked for (aware UTC), or None when the words hold no time.

    A day without a time ("morgen", "friday") is that day at 00:00 local: the offer then takes the
    first slot with room on that day.
    """
    lang = lang if lang in _NUMBER_WORDS else "nl"
    cleaned = " ".join(_ASKING.sub(" ", (text or "").lower().replace(".", ":")).split())
    if not cleaned or re.fullmatch(r"[\d\s]{1,3}", cleaned):
        return None  # a lone digit is a menu choice, not a time
    rewritten, clock = _rewrite_clock(cleaned, lang)
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz).replace(tzinfo=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dateparser and its regex dependency emit deprecations
        parsed = dateparser.parse(
            rewritten,
            languages=[lang],
            settings={
                "RELATIVE_BASE": local_now,
                "PREFER_DATES_FROM": "future",
                "RETURN_AS_TIMEZONE_AWARE": False,
            },
        )
    if parsed is None:
        if clock is None:
            return None
        parsed = local_now  # only a time was said ("om half drie"): today
    if clock is not None:
        parsed = datetime.combine(parsed.date(), clock)
    elif not _mentions_clock(rewritten):
        parsed = datetime.combine(parsed.date(), time(0, 0))
    return parsed.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))


def _mentions_clock(text: str) -> bool:
    return bool(re.search(r"\d{1,2}:\d{2}|\d\s*(am|pm)\b", text))


def _number(token: str, lang: str) -> int | None:
    if token.isdigit():
        return int(token)
    return _NUMBER_WORDS[lang].get(token)


def _rewrite_clock(text: str, lang: str) -> tuple[str, time | None]:
    """Find a spoken time, return the text with it removed and the 24-hour time it means."""
    words = "|".join(sorted(_NUMBER_WORDS[lang], key=len, reverse=True))
    num = rf"(\d{{1,2}}|{words})"
    patterns: list[tuple[str, int, int]]  # regex, minutes offset, hour offset
    if lang == "nl":
        patterns = [
            (rf"\bkwart\s+over\s+half\s+{num}\b", 45, -1),
            (rf"\bkwart\s+voor\s+half\s+{num}\b", 15, -1),
            (rf"\b(?:vijf|5)\s+over\s+half\s+{num}\b", 35, -1),
            (rf"\b(?:vijf|5)\s+voor\s+half\s+{num}\b", 25, -1),
            (rf"\bhalf\s+{num}\b", 30, -1),
            (rf"\bkwart\s+over\s+{num}\b", 15, 0),
            (rf"\bkwart\s+voor\s+{num}\b", 45, -1),
            (rf"\b{num}\s+uur\b", 0, 0),
            (rf"\b(?:om|rond|tegen)\s+{num}\b(?!\s*[:\d])", 0, 0),
        ]
    else:
        patterns = [
            (rf"\bhalf\s+past\s+{num}\b", 30, 0),
            (rf"\b(?:a\s+)?quarter\s+past\s+{num}\b", 15, 0),
            (rf"\b(?:a\s+)?quarter\s+to\s+{num}\b", 45, -1),
            (rf"\b{num}\s+o'?\s?clock\b", 0, 0),
            (rf"\b{num}\s*(am|a:m:|pm|p:m:)(?=\s|$)", 0, 0),
            (rf"\b{num}\s+in\s+the\s+(?:morning|afternoon|evening)\b", 0, 0),
            (rf"\b(?:at|around)\s+{num}\b(?!\s*[:\d])", 0, 0),
        ]
    for pattern, minutes, hour_offset in patterns:
        match = re.search(pattern, text)
        if not match:
            continue
        hour = _number(match.group(1), lang)
        if hour is None or not 0 <= hour <= 24:
            continue
        hour = (hour + hour_offset) % 24
        hour = _to_24h(hour, text)
        return _day_words(text[: match.start()] + " " + text[match.end() :], lang), time(hour, minutes)
    match = re.search(r"\b(\d{1,2}):(\d{2})\b", text)
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        hour = _to_24h(int(match.group(1)), text)
        rest = text[: match.start()] + " " + text[match.end() :]
        return _day_words(rest, lang), time(hour, int(match.group(2)))
    return text, None


_FILLER = re.compile(
    r"('s\s+(ochtends|middags|avonds)|in\s+the\s+(morning|afternoon|evening)|\b(om|at|uur|am|pm|a:m:|p:m:|"
    r"rond|around|graag|please|liefst|maar)\b)"
)


def _day_words(rest: str, lang: str) -> str:
    """What is left to tell the day once the time is taken out ("morgen", "on monday")."""
    words = " ".join(_FILLER.sub(" ", rest).split())
    return words or ("vandaag" if lang == "nl" else "today")


def _to_24h(hour: int, text: str) -> int:
    if 1 <= hour < 12 and _EVENING.search(text):
        return hour + 12
    if _MORNING.search(text):
        return hour % 12 if hour == 12 else hour
    if 1 <= hour < _AFTERNOON_BELOW:
        return hour + 12
    return hour
