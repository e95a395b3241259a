"""Words the caller hears or reads, in Dutch and English (docs/product-rules.md).

The sentences live in gettext catalogues under terugbel/locale/: the "caller" domain holds what
callers and agents hear on the phone and read by SMS (its message ids are keys such as
`whisper_inbound`, translated in every language), the "console" domain what the console shows (its
message ids are the English sentences; console/texts.py reads it). The app reads the compiled .mo
files; `make messages` (terugbel/catalogues.py) extracts, updates and compiles them, and installing
the package compiles them too. A missing .mo or a key in only one language stops the app at start
(`require_catalogues`), so no caller ever hears a raw key.
Times are formatted with Babel in the caller's zone: "vandaag om 14:30", "tomorrow at 09:15".
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.messages.mofile import read_mo

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
CALLER_DOMAIN = "caller"
CONSOLE_DOMAIN = "console"
COMPILE_HINT = "run `make messages` (or reinstall: pip install -e .)"

_LOCALES = {"nl": "nl_NL", "en": "en_GB"}


class CatalogueError(RuntimeError):
    """The message catalogues cannot be used: not compiled, or a key missing in a language."""


def message_id(key: str) -> str:
    """Mark a message id that travels as data before it is translated, so `pybabel extract` finds it."""
    return key


@cache
def translations(domain: str, lang: str, locale_dir: Path = LOCALE_DIR) -> dict[str, str]:
    """{message id: sentence} of one domain in one language, from its compiled .mo."""
    path = locale_dir / lang / "LC_MESSAGES" / f"{domain}.mo"
    try:
        with path.open("rb") as compiled:
            messages = read_mo(compiled)
    except FileNotFoundError:
        raise CatalogueError(f"the message catalogue {path} is not compiled: {COMPILE_HINT}") from None
    return {str(message.id): str(message.string) for message in messages if message.id and message.string}


@cache
def catalogue(locale_dir: Path = LOCALE_DIR) -> dict[str, dict[str, str]]:
    """{language: {key: sentence}} of the caller's words; refuses a key that is not in every language."""
    merged = {lang: translations(CALLER_DOMAIN, lang, locale_dir) for lang in LANGUAGES}
    keys = {lang: set(merged[lang]) for lang in LANGUAGES}
    if keys["nl"] != keys["en"]:
        missing = sorted(keys["nl"] ^ keys["en"])
        raise CatalogueError(f"caller words not in both languages: {missing}: translate them, then {COMPILE_HINT}")
    return merged


def require_catalogues(locale_dir: Path = LOCALE_DIR) -> None:
    """Stop at start, with one line saying how to compile, when a catalogue cannot be read."""
    catalogue(locale_dir)
    for lang in LANGUAGES:
        translations(CONSOLE_DOMAIN, lang, locale_dir)


def normalise_language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def t(lang: str | None, key: str, **params: object) -> str:
    """The sentence `key` in `lang`, with `{params}` filled in."""
    return catalogue()[normalise_language(lang)][key].format(**params)


def few_words(text: str | None, limit: int, *, last_part_after: str | None = None) -> str | None:
    """Shorten `text` to at most `limit` characters at a word, with "…"; None when there is nothing.

    With `last_part_after`, only the part after the last such separator counts (a transcript that
    holds several answers, " / " between them: the latest says it best).
    """
    if not text:
        return None
    if last_part_after is not None:
        text = text.split(last_part_after)[-1]
    words = " ".join(text.split())
    if not words:
        return None
    return words if len(words) <= limit else words[: limit - 1].rsplit(" ", 1)[0] + "…"


def format_clock(moment: datetime, zone: str | ZoneInfo, lang: str | None) -> str:
    """ "14:30" in the given zone (24-hour clock in both languages, as callers here expect)."""
    local = moment.astimezone(_zone(zone))
    return format_time(local, "HH:mm", locale=_LOCALES[normalise_language(lang)])


def format_day(moment: datetime, zone: str | ZoneInfo, lang: str | None, now: datetime) -> str:
    """ "vandaag", "morgen", "maandag 30 november" / "today", "tomorrow", "Monday 30 November"."""
    lang = normalise_language(lang)
    local = moment.astimezone(_zone(zone)).date()
    today = now.astimezone(_zone(zone)).date()
    delta = (local - today).days
    if delta == 0:
        return t(lang, "time_today")
    if delta == 1:
        return t(lang, "time_tomorrow")
    return format_date(local, "EEEE d MMMM", locale=_LOCALES[lang])


def format_moment(moment: datetime, zone: str | ZoneInfo, lang: str | None, now: datetime) -> str:
    """ "vandaag om 14:30" / "tomorrow at 09:15"."""
    day = format_day(moment, zone, lang, now)
    return t(lang, "time_moment", day=day, clock=format_clock(moment, zone, lang))


def format_window(start: datetime, end: datetime, zone: str | ZoneInfo, lang: str | None, now: datetime) -> str:
    """ "vandaag tussen 14:30 en 14:45" / "tomorrow between 09:00 and 09:15"."""
    day = format_day(start, zone, lang, now)
    clocks = {"start": format_clock(start, zone, lang), "end": format_clock(end, zone, lang)}
    return t(lang, "time_window", day=day, **clocks)


def _zone(zone: str | ZoneInfo) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
