"""Times callers say or text, in Dutch and English, relative to now in their zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbacks.timeparse import parse_requested_time

AMS = "Europe/Amsterdam"
LONDON = "Europe/London"
# Monday 23 November 2026, 09:00 in Amsterdam (the fixtures' clock).
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo(AMS)).astimezone(UTC)


def at(zone: str, d: int, hh: int, mm: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, d, hh, mm, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("morgen om tien uur", at(AMS, 24, 10)),
        ("Morgen om 10 uur", at(AMS, 24, 10)),
        ("vandaag om half drie", at(AMS, 23, 14, 30)),
        ("maandag 10:00", at(AMS, 30, 10)),
        ("om kwart over elf", at(AMS, 23, 11, 15)),
        ("morgen kwart voor vier", at(AMS, 24, 15, 45)),
        ("overmorgen om 9:15", at(AMS, 25, 9, 15)),
        ("dinsdag om 9 uur 's ochtends", at(AMS, 24, 9)),
        ("woensdag rond drie uur", at(AMS, 25, 15)),
        ("morgen 10.30", at(AMS, 24, 10, 30)),
        ("morgen", at(AMS, 24, 0)),
    ],
)
def test_dutch(text: str, expected: datetime) -> None:
    assert parse_requested_time(text, "nl", AMS, MONDAY_9) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow at eleven", at(LONDON, 24, 11)),
        ("Tomorrow  at  ELEVEN", at(LONDON, 24, 11)),
        ("tomorrow at 10", at(LONDON, 24, 10)),
        ("monday 10:00", at(LONDON, 30, 10)),
        ("friday at 2 pm", at(LONDON, 27, 14)),
        ("quarter to ten tomorrow", at(LONDON, 24, 9, 45)),
        ("half past three", at(LONDON, 23, 15, 30)),
        ("on wednesday around 3 in the afternoon", at(LONDON, 25, 15)),
        ("tomorrow at 11 in the morning", at(LONDON, 24, 11)),
        ("friday", at(LONDON, 27, 0)),
    ],
)
def test_english_in_the_callers_zone(text: str, expected: datetime) -> None:
    assert parse_requested_time(text, "en", LONDON, MONDAY_9) == expected


def test_story_6_after_hours_tomorrow_at_eleven() -> None:
    evening = at(LONDON, 23, 21, 30)
    assert parse_requested_time("tomorrow at eleven", "en", LONDON, evening) == at(LONDON, 24, 11)


@pytest.mark.parametrize("text", ["", "   ", "2", "blabla", "mijn modem knippert", "whatever"])
def test_no_time_gives_none(text: str) -> None:
    assert parse_requested_time(text, "nl", AMS, MONDAY_9) is None
    assert parse_requested_time(text, "en", AMS, MONDAY_9) is None


@given(st.text(max_size=60), st.sampled_from(["nl", "en", "de"]))
def test_never_crashes_and_answers_aware_utc(text: str, lang: str) -> None:
    result = parse_requested_time(text, lang, AMS, MONDAY_9)
    assert result is None or result.utcoffset() is not None
