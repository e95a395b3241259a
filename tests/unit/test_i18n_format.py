from datetime import UTC, datetime, timedelta

import pytest

from terugbel.i18n import LANGUAGES, catalogue, few_words, format_moment, format_window

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Amsterdam


@pytest.mark.parametrize(
    ("offset", "lang", "expected"),
    [
        (timedelta(hours=5, minutes=30), "nl", "vandaag om 14:30"),
        (timedelta(hours=5, minutes=30), "en", "today at 14:30"),
        (timedelta(days=1, hours=1, minutes=15), "en", "tomorrow at 10:15"),
        (timedelta(days=1, hours=1, minutes=15), "nl", "morgen om 10:15"),
        (timedelta(days=3), "nl", "donderdag 26 november om 09:00"),
        (timedelta(days=3), "en", "Thursday 26 November at 09:00"),
    ],
)
def test_moments_are_said_in_the_callers_zone(offset: timedelta, lang: str, expected: str) -> None:
    assert format_moment(NOW + offset, "Europe/Amsterdam", lang, NOW) == expected


def test_a_window_names_both_ends() -> None:
    start = NOW + timedelta(hours=5, minutes=30)
    assert format_window(start, start + timedelta(minutes=15), "Europe/Amsterdam", "nl", NOW) == (
        "vandaag tussen 14:30 en 14:45"
    )


def test_the_day_follows_the_callers_zone_not_utc() -> None:
    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # already Tuesday in Amsterdam
    assert format_moment(late, "Europe/Amsterdam", "en", NOW) == "tomorrow at 00:30"
    assert format_moment(late, "Europe/London", "en", NOW) == "today at 23:30"


def test_every_sentence_exists_in_both_languages() -> None:
    merged = catalogue()
    assert set(merged) == set(LANGUAGES)
    assert set(merged["nl"]) == set(merged["en"])


def test_few_words_shortens_at_a_word() -> None:
    assert few_words(None, 60) is None
    assert few_words("   ", 60) is None
    assert few_words("factuur  klopt niet", 60) == "factuur klopt niet"
    assert few_words("mijn factuur klopt niet en de monteur kwam niet", 20) == "mijn factuur klopt…"
    assert few_words("internet / nee, mijn factuur", 80, last_part_after=" / ") == "nee, mijn factuur"
