"""Bar and column charts drawn as SVG on the server: no chart library, readable without JavaScript.

The page shows the same numbers in a table beside each chart, so the chart is an aid, not the
only way to read them (screen readers get the table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 100
PLOT_WIDTH = 210


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    text: str  # the value as written beside the bar
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    height: int
    label_width: int = LABEL_WIDTH
    plot_width: int = PLOT_WIDTH

    @property
    def width(self) -> int:
        return self.label_width + self.plot_width + 50


def bar_chart(title: str, items: Sequence[tuple[str, float | None, str]], maximum: float | None = None) -> BarChart:
    """Horizontal bars for (label, value, text); values scale to `maximum` (default: the largest)."""
    top = maximum if maximum is not None else max((v for _, v, _ in items if v is not None), default=0.0)
    bars = [
        Bar(
            label=label,
            value=value,
            text=text,
            y=index * (BAR_HEIGHT + GAP),
            width=(PLOT_WIDTH * value / top) if value and top else 0.0,
        )
        for index, (label, value, text) in enumerate(items)
    ]
    return BarChart(title=title, bars=bars, height=max(1, len(bars)) * (BAR_HEIGHT + GAP))


COLUMN_PLOT_HEIGHT = 140
COLUMN_WIDTH = 34
COLUMN_GAP = 6
COLUMN_TOP = 18  # room for the value written above the tallest column
COLUMN_LABELS = 22  # room for the labels under the columns


@dataclass(frozen=True)
class Column:
    label: str
    value: float | None
    text: str
    x: int
    height: float

    @property
    def top(self) -> float:
        return COLUMN_TOP + COLUMN_PLOT_HEIGHT - self.height


@dataclass(frozen=True)
class ColumnChart:
    """Vertical columns over time (days, hours): one per label, left to right."""

    title: str
    columns: list[Column]
    baseline: int = COLUMN_TOP + COLUMN_PLOT_HEIGHT
    column_width: int = COLUMN_WIDTH

    @property
    def width(self) -> int:
        return max(1, len(self.columns)) * (COLUMN_WIDTH + COLUMN_GAP) + COLUMN_GAP

    @property
    def height(self) -> int:
        return self.baseline + COLUMN_LABELS


def column_chart(
    title: str, items: Sequence[tuple[str, float | None, str]], maximum: float | None = None
) -> ColumnChart:
    """Columns for (label, value, text) in order; heights scale to `maximum` (default: the largest)."""
    top = maximum if maximum is not None else max((v for _, v, _ in items if v is not None), default=0.0)
    columns = [
        Column(
            label=label,
            value=value,
            text=text,
            x=COLUMN_GAP + index * (COLUMN_WIDTH + COLUMN_GAP),
            height=(COLUMN_PLOT_HEIGHT * value / top) if value and top else 0.0,
        )
        for index, (label, value, text) in enumerate(items)
    ]
    return ColumnChart(title=title, columns=columns)
