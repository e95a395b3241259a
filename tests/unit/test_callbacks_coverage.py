"""What a process remembers of complete slot stretches: per database, queue and configuration token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from callbacks import coverage
from callbacks.coverage import known_until, record_complete

DB = "postgresql://db/one"
T0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    coverage._known.clear()
    yield
    coverage._known.clear()


def test_a_stretch_is_known_only_under_its_token_database_and_queue() -> None:
    record_complete(DB, "a", 1, T0, T0 + DAY)
    assert known_until(DB, "a", 1, T0) == T0 + DAY
    assert known_until(DB, "a", 1, T0 + DAY / 2) == T0 + DAY
    assert known_until(DB, "b", 1, T0) is None  # the configuration changed
    assert known_until(DB, "a", 2, T0) is None
    assert known_until("sqlite:///other", "a", 1, T0) is None
    assert known_until(DB, None, 1, T0) is None


def test_a_start_outside_the_stretch_knows_nothing() -> None:
    record_complete(DB, "a", 1, T0, T0 + DAY)
    assert known_until(DB, "a", 1, T0 - timedelta(minutes=1)) is None
    assert known_until(DB, "a", 1, T0 + DAY) is None


def test_touching_and_overlapping_stretches_join() -> None:
    record_complete(DB, "a", 1, T0, T0 + DAY)
    record_complete(DB, "a", 1, T0 + DAY, T0 + 8 * DAY)
    record_complete(DB, "a", 1, T0 + 7 * DAY, T0 + 21 * DAY)
    assert known_until(DB, "a", 1, T0) == T0 + 21 * DAY


def test_a_new_token_or_a_gap_starts_over() -> None:
    record_complete(DB, "a", 1, T0, T0 + DAY)
    record_complete(DB, "a", 1, T0 + 2 * DAY, T0 + 3 * DAY)
    assert known_until(DB, "a", 1, T0) is None
    assert known_until(DB, "a", 1, T0 + 2 * DAY) == T0 + 3 * DAY
    record_complete(DB, "b", 1, T0, T0 + DAY)
    assert known_until(DB, "a", 1, T0 + 2 * DAY) is None
    assert known_until(DB, "b", 1, T0) == T0 + DAY


def test_nothing_is_kept_without_a_token() -> None:
    record_complete(DB, None, 1, T0, T0 + DAY)
    assert coverage._known == {}
