"""Words the caller hears or reads, in Dutch and English (docs/product-rules.md).

Each package keeps its sentences in a `messages.py` holding `MESSAGES = {"nl": {...}, "en": {...}}`;
together they form one catalogue per language. `catalogue()` merges them and refuses a key that is
missing in one language or defined twice, so no sentence exists in only one language.
Times are formatted with Babel in the caller's zone: "vandaag om 14:30", "tomorrow at 09:15".
"""

from __future__ import annotations

import importlib
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
# Packages whose messages.py contribute to the catalogue.
MESSAGE_MODULES = ("ivr.messages", "callbacks.messages", "callbacks.dispatch_messages", "routing.messages")

_LOCALES = {"nl": "nl_NL", "en": "en_GB"}
_RELATIVE_DAYS = {"nl": ("vandaag", "morgen"), "en": ("today", "tomorrow")}


class CatalogueError(RuntimeError):
    """The message catalogues disagree: a key missing in a language, or defined twice."""


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Return {language: {key: sentence}} merged from every package's messages module."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for module_name in MESSAGE_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that package has no caller-facing words (yet)
            raise
        messages: dict[str, dict[str, str]] = module.MESSAGES
        keys = {lang: set(messages.get(lang, {})) for lang in LANGUAGES}
        if keys["nl"] != keys["en"]:
            missing = sorted(keys["nl"] ^ keys["en"])
            raise CatalogueError(f"{module_name}: not in both languages: {missing}")
        for lang in LANGUAGES:
            twice = set(merged[lang]) & keys[lang]
            if twice:
                raise CatalogueError(f"{module_name}: defined twice: {sorted(twice)}")
            merged[lang].update(messages[lang])
    return merged


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
        return _RELATIVE_DAYS[lang][0]
    if delta == 1:
        return _RELATIVE_DAYS[lang][1]
    return format_date(local, "EEEE d MMMM", locale=_LOCALES[lang])


def format_moment(moment: datetime, zone: str | ZoneInfo, lang: str | None, now: datetime) -> str:
    """ "vandaag om 14:30" / "tomorrow at 09:15"."""
    lang = normalise_language(lang)
    joiner = "om" if lang == "nl" else "at"
    return f"{format_day(moment, zone, lang, now)} {joiner} {format_clock(moment, zone, lang)}"


def format_window(start: datetime, end: datetime, zone: str | ZoneInfo, lang: str | None, now: datetime) -> str:
    """ "vandaag tussen 14:30 en 14:45" / "tomorrow between 09:00 and 09:15"."""
    lang = normalise_language(lang)
    between, and_ = ("tussen", "en") if lang == "nl" else ("between", "and")
    return (
        f"{format_day(start, zone, lang, now)} {between} "
        f"{format_clock(start, zone, lang)} {and_} {format_clock(end, zone, lang)}"
    )


def _zone(zone: str | ZoneInfo) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
