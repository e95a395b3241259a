"""Percentages and weekday names as the console writes and reads them."""

from __future__ import annotations

from console.formatting import percent_as_share, percent_text, share_as_percent, weekday_names


def test_shares_are_written_as_percentages() -> None:
    assert [percent_text(v) for v in (None, 0.0, 0.834, 1.0)] == ["–", "0%", "83%", "100%"]
    assert [share_as_percent(v) for v in (0.3, 0.125, 1.0)] == ["30", "12.5", "100"]


def test_typed_percentages_become_shares_and_text_passes_through() -> None:
    assert [float(percent_as_share(raw)) for raw in ("30", " 30 %", "12,5", "100")] == [0.3, 0.3, 0.125, 1.0]
    assert percent_as_share("veel") == "veel"


def test_weekdays_in_the_users_language_monday_first() -> None:
    assert weekday_names("nl")[:2] == ["maandag", "dinsdag"] and weekday_names("nl")[6] == "zondag"
    assert weekday_names("en")[0] == "Monday"
