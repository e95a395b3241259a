"""Column charts over time and waits by hour: plain numbers in, positions and averages out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.charts import COLUMN_PLOT_HEIGHT, column_chart
from console.metrics import WaitFact, waits_by_hour


def test_columns_scale_to_the_maximum_and_stand_on_the_baseline() -> None:
    chart = column_chart("Kept", [("01-12", 0.5, "50%"), ("02-12", None, "–"), ("03-12", 1.0, "100%")], maximum=1.0)
    heights = [column.height for column in chart.columns]
    assert heights == [COLUMN_PLOT_HEIGHT / 2, 0.0, COLUMN_PLOT_HEIGHT]
    assert all(column.top + column.height == chart.baseline for column in chart.columns)
    xs = [column.x for column in chart.columns]
    assert xs == sorted(xs) and chart.width > xs[-1] + chart.column_width


def test_columns_default_to_the_largest_value() -> None:
    chart = column_chart("Calls", [("a", 2, "2"), ("b", 4, "4")])
    assert [column.height for column in chart.columns] == [COLUMN_PLOT_HEIGHT / 2, COLUMN_PLOT_HEIGHT]


def test_waits_count_for_the_local_hour_the_caller_joined() -> None:
    nine = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam
    waits = [
        WaitFact(nine, nine + timedelta(seconds=30)),
        WaitFact(nine + timedelta(minutes=50), nine + timedelta(minutes=52)),  # joined 09:50, left 09:52
        WaitFact(nine + timedelta(hours=1), nine + timedelta(hours=1, seconds=10)),
    ]
    by_hour = {h.hour: h for h in waits_by_hour(waits, "Europe/Amsterdam")}
    assert (by_hour[9].callers, by_hour[9].average_seconds, by_hour[9].longest_seconds) == (2, 75.0, 120.0)
    assert (by_hour[10].callers, by_hour[10].average_seconds) == (1, 10.0)
    assert by_hour[11].callers == 0 and by_hour[11].average_seconds is None
    assert len(by_hour) == 24
