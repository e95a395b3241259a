"""The board's action figures and their severities."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from console.board_summary import fcr_severity, longest_wait, summarise
from console.metrics import numbers_by_queue
from console.queries import Board, PromiseLine, QueueLine

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def queue(label: str, waiting: int, longest: int, threshold: int = 120) -> QueueLine:
    return QueueLine(
        queue_id=1,
        name=label.lower(),
        label=label,
        open=True,
        waiting=waiting,
        longest_wait_seconds=longest,
        wait_estimate_seconds=0,
        available_agents=1,
        serving_agents=1,
        wait_threshold_seconds=threshold,
    )


def promise(minutes_to_dial: int, *, at_risk: bool = False) -> PromiseLine:
    dial = NOW + timedelta(minutes=minutes_to_dial)
    return PromiseLine(
        promise_id=minutes_to_dial,
        queue="Facturen",
        caller_name=None,
        number="+31611112222",
        state="booked",
        window_start=dial,
        window_end=dial + timedelta(minutes=15),
        planned_dial_at=dial,
        timezone="Europe/Amsterdam",
        reason=None,
        moved_by_us=False,
        at_risk=at_risk,
    )


def board(**changes: object) -> Board:
    empty = Board(
        now=NOW, in_menu=0, queues=[], waiting=[], agents=[], due_next_hour=[], at_risk=[], moved_by_us=[],
        resolved_otherwise=[], incidents=[],
    )  # fmt: skip
    return replace(empty, **changes)  # type: ignore[arg-type]


TODAY = numbers_by_queue([], [], {}, NOW, NOW + timedelta(days=1), NOW)[-1]


def test_a_calm_board_is_good_everywhere_and_has_no_fcr_yet() -> None:
    summary = summarise(board(), TODAY)
    assert summary.at_risk.severity == "good" and summary.due_next_hour.severity == "good"
    assert summary.longest_wait.severity == "good" and summary.longest_wait.queue is None
    assert summary.fcr_today.value is None and summary.fcr_today.severity == "none"


def test_an_overdue_callback_is_bad_and_one_due_soon_a_warning() -> None:
    overdue = summarise(board(due_next_hour=[promise(-2), promise(10), promise(40)]), TODAY)
    assert (overdue.due_next_hour.value, overdue.overdue, overdue.due_soon) == (3, 1, 1)
    assert overdue.due_next_hour.severity == "bad"
    soon = summarise(board(due_next_hour=[promise(10), promise(40)]), TODAY)
    assert soon.due_next_hour.severity == "warn"
    later = summarise(board(due_next_hour=[promise(40)]), TODAY)
    assert later.due_next_hour.severity == "none"


def test_any_promise_at_risk_is_bad() -> None:
    assert summarise(board(at_risk=[promise(5, at_risk=True)]), TODAY).at_risk.severity == "bad"


def test_the_longest_wait_is_judged_against_its_own_queues_threshold() -> None:
    worst = longest_wait([queue("Facturen", 2, 50, threshold=60), queue("Technisch", 1, 200, threshold=600)])
    assert (worst.seconds, worst.queue, worst.severity) == (200, "Technisch", "good")
    assert longest_wait([queue("Facturen", 1, 61, threshold=60)]).severity == "bad"
    assert longest_wait([queue("Facturen", 1, 31, threshold=60)]).severity == "warn"
    assert longest_wait([queue("Facturen", 0, 0)]).queue is None


def test_fcr_severity_bands() -> None:
    assert [fcr_severity(v) for v in (0.5, 0.6, 0.74, 0.75, 1.0)] == ["bad", "warn", "warn", "good", "good"]
