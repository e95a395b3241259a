"""Pure decisions of a callback attempt: retries inside the window, giving up in time to tell the caller, back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbacks.attempts import (
    DEFAULT_POLICY,
    CallerResult,
    DialPolicy,
    GiveUp,
    PromiseTimeline,
    Retry,
    backoff,
    caller_result_from_status,
    classify_answered_by,
    dial_policy,
    is_due,
    last_dial_start,
    last_planned_dial,
    plan_after_caller,
    plan_after_network_error,
    plan_without_agent,
)
from terugbel.settings import Settings

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 16:00 in Amsterdam
END = START + timedelta(minutes=15)


def test_the_last_dial_start_leaves_room_for_a_whole_attempt_and_the_text() -> None:
    # Agent ring 20 s + whisper 30 s + caller ring 30 s + detection 45 s, then a minute to text.
    assert DEFAULT_POLICY.attempt_length == timedelta(seconds=125)
    assert last_dial_start(START, END) == END - timedelta(minutes=3, seconds=5)
    # A window shorter than an attempt: one attempt, at its start.
    assert last_dial_start(START, START + timedelta(minutes=2)) == START


def test_retry_spacing_comes_from_the_operator_settings(settings: Settings) -> None:
    policy = dial_policy(
        settings.with_overrides(
            retry_busy_seconds=60, retry_no_answer_seconds=120, retry_machine_seconds=180, retry_failed_seconds=240
        )
    )
    assert dict(policy.retry_spacing) == {
        CallerResult.BUSY: timedelta(minutes=1),
        CallerResult.NO_ANSWER: timedelta(minutes=2),
        CallerResult.VOICEMAIL: timedelta(minutes=3),
        CallerResult.FAILED: timedelta(minutes=4),
    }


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


def test_voicemail_at_the_start_retries_four_minutes_later() -> None:
    step = plan_after_caller(
        CallerResult.VOICEMAIL, now=START + timedelta(seconds=20), window_start=START, window_end=END, caller_tries=1
    )
    assert step == Retry(START + timedelta(minutes=4, seconds=20))


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
    # Bounded by the window: a spacing that would come too late comes at the last planned dial.
    late = plan_after_caller(
        CallerResult.NO_ANSWER,
        now=START + timedelta(minutes=6),
        window_start=START,
        window_end=END,
        caller_tries=1,
        policy=policy,
    )
    assert late == Retry(last_planned_dial(START, END))


def test_three_attempts_in_total_then_give_up() -> None:
    step = plan_after_caller(
        CallerResult.NO_ANSWER, now=START + timedelta(minutes=10), window_start=START, window_end=END, caller_tries=3
    )
    assert isinstance(step, GiveUp) and "3 attempts" in step.reason


def test_a_retry_that_cannot_fit_in_the_window_is_given_up() -> None:
    # Less than the minimum gap left before the last dial start: give up, the caller is told in time.
    step = plan_after_caller(
        CallerResult.BUSY,
        now=last_dial_start(START, END) - timedelta(seconds=30),
        window_start=START,
        window_end=END,
        caller_tries=2,
    )
    assert isinstance(step, GiveUp)


@given(
    now_offset=st.integers(min_value=-600, max_value=3600),
    tries=st.integers(min_value=0, max_value=5),
    result=st.sampled_from([CallerResult.BUSY, CallerResult.NO_ANSWER, CallerResult.VOICEMAIL, CallerResult.FAILED]),
)
def test_every_retry_lies_inside_the_window(now_offset: int, tries: int, result: CallerResult) -> None:
    now = START + timedelta(seconds=now_offset)
    step = plan_after_caller(result, now=now, window_start=START, window_end=END, caller_tries=tries)
    if isinstance(step, Retry):
        assert START <= step.at <= last_planned_dial(START, END) < last_dial_start(START, END)
        # The whole attempt, and the text if it fails, fit before the window ends.
        assert step.at + DEFAULT_POLICY.attempt_length + DEFAULT_POLICY.notice_before_end <= END
        assert step.at > now
        assert tries < 3


def test_without_an_agent_we_look_again_until_the_caller_can_still_be_told() -> None:
    assert plan_without_agent(now=START, window_start=START, window_end=END) == Retry(START + timedelta(minutes=1))
    # Less than a minute before the last planned dial: the last look comes then.
    last = last_planned_dial(START, END)
    assert plan_without_agent(now=last - timedelta(seconds=40), window_start=START, window_end=END) == Retry(last)
    # At it (the margin before the last dial start is the scheduler's, not ours): give up now, in time to text.
    late = plan_without_agent(
        now=last_dial_start(START, END) - timedelta(seconds=30), window_start=START, window_end=END
    )
    assert isinstance(late, GiveUp)


def test_backoff_doubles_up_to_a_minute() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4, 5, 6, 7)] == [2, 4, 8, 16, 32, 60, 60]


def test_network_refusals_retry_with_backoff_inside_the_window() -> None:
    assert plan_after_network_error(now=START, failures=1, window_start=START, window_end=END) == Retry(
        START + timedelta(seconds=2)
    )
    too_late = plan_after_network_error(now=last_dial_start(START, END), failures=3, window_start=START, window_end=END)
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
    assert busy == Retry(START + timedelta(minutes=3))
