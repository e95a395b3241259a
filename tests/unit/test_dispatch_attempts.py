"""Pure decisions of a callback attempt: retries inside the window plus grace, giving up in time, back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbacks.attempts import (
    CallerResult,
    DialPolicy,
    GiveUp,
    PromiseTimeline,
    Retry,
    backoff,
    caller_result_from_status,
    classify_answered_by,
    dial_deadline,
    is_due,
    plan_after_caller,
    plan_after_network_error,
    plan_without_agent,
)

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 16:00 in Amsterdam
END = START + timedelta(minutes=15)


def test_the_deadline_is_the_window_plus_one_slot() -> None:
    assert dial_deadline(START, END) == END + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("answered_by", "expected"),
    [
        (None, None),
        ("", None),
        ("human", CallerResult.HUMAN),
        ("unknown", CallerResult.HUMAN),  # a real caller never gets our voicemail message
        ("machine_end_beep", CallerResult.VOICEMAIL),
        ("machine_end_silence", CallerResult.VOICEMAIL),
        ("machine_start", CallerResult.VOICEMAIL),
        ("fax", CallerResult.VOICEMAIL),
    ],
)
def test_answered_by_is_a_person_or_a_machine(answered_by: str | None, expected: CallerResult | None) -> None:
    assert classify_answered_by(answered_by) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("busy", CallerResult.BUSY),
        ("no-answer", CallerResult.NO_ANSWER),
        ("canceled", CallerResult.NO_ANSWER),
        ("failed", CallerResult.FAILED),
        ("completed", CallerResult.NO_ANSWER),
    ],
)
def test_final_status_of_an_unconnected_leg(status: str, expected: CallerResult) -> None:
    assert caller_result_from_status(status) is expected


def test_voicemail_at_the_start_retries_five_minutes_later() -> None:
    step = plan_after_caller(
        CallerResult.VOICEMAIL, now=START + timedelta(seconds=20), window_start=START, window_end=END, caller_tries=1
    )
    assert step == Retry(START + timedelta(minutes=5, seconds=20))


def test_each_result_has_its_own_spacing() -> None:
    policy = DialPolicy(
        retry_spacing={
            CallerResult.BUSY: timedelta(minutes=2),
            CallerResult.NO_ANSWER: timedelta(minutes=7),
            CallerResult.VOICEMAIL: timedelta(minutes=5),
            CallerResult.FAILED: timedelta(minutes=1),
        }
    )
    busy = plan_after_caller(
        CallerResult.BUSY, now=START, window_start=START, window_end=END, caller_tries=1, policy=policy
    )
    silent = plan_after_caller(
        CallerResult.NO_ANSWER, now=START, window_start=START, window_end=END, caller_tries=1, policy=policy
    )
    assert busy == Retry(START + timedelta(minutes=2)) and silent == Retry(START + timedelta(minutes=7))


def test_three_attempts_in_total_then_give_up() -> None:
    step = plan_after_caller(
        CallerResult.NO_ANSWER, now=START + timedelta(minutes=10), window_start=START, window_end=END, caller_tries=3
    )
    assert isinstance(step, GiveUp) and "3 attempts" in step.reason


def test_a_retry_past_the_grace_slot_is_given_up() -> None:
    step = plan_after_caller(
        CallerResult.BUSY, now=END + timedelta(minutes=12), window_start=START, window_end=END, caller_tries=2
    )
    assert isinstance(step, GiveUp)


@given(
    now_offset=st.integers(min_value=-600, max_value=3600),
    tries=st.integers(min_value=0, max_value=5),
    result=st.sampled_from([CallerResult.BUSY, CallerResult.NO_ANSWER, CallerResult.VOICEMAIL, CallerResult.FAILED]),
)
def test_every_retry_lies_inside_the_window_and_its_grace(now_offset: int, tries: int, result: CallerResult) -> None:
    now = START + timedelta(seconds=now_offset)
    step = plan_after_caller(result, now=now, window_start=START, window_end=END, caller_tries=tries)
    if isinstance(step, Retry):
        assert START <= step.at <= dial_deadline(START, END)
        assert step.at > now
        assert tries < 3


def test_without_an_agent_we_look_again_until_the_caller_can_still_be_told() -> None:
    assert plan_without_agent(now=START, window_end=END) == Retry(START + timedelta(minutes=1))
    late = plan_without_agent(now=END - timedelta(minutes=1, seconds=30), window_end=END)
    assert isinstance(late, GiveUp)


def test_backoff_doubles_up_to_a_minute() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4, 5, 6, 7)] == [2, 4, 8, 16, 32, 60, 60]


def test_network_refusals_retry_with_backoff_inside_the_window() -> None:
    assert plan_after_network_error(now=START, failures=1, window_start=START, window_end=END) == Retry(
        START + timedelta(seconds=2)
    )
    too_late = plan_after_network_error(now=dial_deadline(START, END), failures=3, window_start=START, window_end=END)
    assert isinstance(too_late, GiveUp)


def test_a_job_may_run_a_moment_early_but_not_more() -> None:
    assert is_due(START, START - timedelta(seconds=1))
    assert not is_due(START, START - timedelta(seconds=30))


def test_the_timeline_measures_lateness() -> None:
    timeline = PromiseTimeline(
        planned_dial_at=START + timedelta(minutes=5),
        first_dial_at=START + timedelta(minutes=5, seconds=2),
        connected_at=START + timedelta(minutes=6),
        window_start=START,
        window_end=END,
        attempts=1,
    )
    assert timeline.lateness == timedelta(seconds=2)
    assert timeline.lateness_against_window == timedelta(0)
    assert timeline.dialled_in_window


def test_a_result_can_have_its_own_maximum() -> None:
    policy = DialPolicy(max_per_result={CallerResult.FAILED: 1})
    failed = plan_after_caller(
        CallerResult.FAILED,
        now=START,
        window_start=START,
        window_end=END,
        caller_tries=1,
        same_result_tries=1,
        policy=policy,
    )
    busy = plan_after_caller(
        CallerResult.BUSY,
        now=START,
        window_start=START,
        window_end=END,
        caller_tries=1,
        same_result_tries=1,
        policy=policy,
    )
    assert isinstance(failed, GiveUp) and "1 attempts ended failed" in failed.reason
    assert busy == Retry(START + timedelta(minutes=5))
