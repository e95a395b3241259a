"""The promise state machine refuses what it does not allow, and records every step."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbacks.models import CallbackPromise, PromiseState
from callbacks.promise import (
    ALLOWED,
    TERMINAL_STATES,
    InvalidPromiseTransition,
    can_transition,
    start_promise,
    transition,
)

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def new_promise() -> CallbackPromise:
    promise = CallbackPromise(number="+31612345678", language="nl", timezone="Europe/Amsterdam")
    start_promise(promise, T0, "booked by test")
    return promise


def test_happy_path_records_each_step_with_time_and_cause() -> None:
    promise = new_promise()
    transition(promise, PromiseState.DIALLING, T0 + timedelta(minutes=1), "attempt 1")
    transition(promise, PromiseState.CONNECTED, T0 + timedelta(minutes=2), "caller answered")
    transition(promise, PromiseState.COMPLETED, T0 + timedelta(minutes=9), "call ended")
    steps = [(r.from_state, r.to_state, r.cause) for r in promise.transitions]
    assert steps == [
        (None, "booked", "booked by test"),
        ("booked", "dialling", "attempt 1"),
        ("dialling", "connected", "caller answered"),
        ("connected", "completed", "call ended"),
    ]
    assert promise.first_dial_at == T0 + timedelta(minutes=1)
    assert promise.connected_at == T0 + timedelta(minutes=2)
    assert promise.ended_at == T0 + timedelta(minutes=9)


def test_voicemail_goes_back_to_booked_for_the_next_attempt() -> None:
    promise = new_promise()
    transition(promise, "dialling", T0, "attempt 1")
    transition(promise, "booked", T0, "voicemail: next attempt at 16:05")
    assert promise.state == "booked"
    assert promise.ended_at is None


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], PromiseState.CONNECTED),  # cannot connect without dialling
        ([], PromiseState.COMPLETED),
        ([PromiseState.CANCELLED], PromiseState.BOOKED),  # a cancelled promise stays cancelled
        ([PromiseState.MOVED], PromiseState.DIALLING),
        ([PromiseState.DIALLING, PromiseState.CONNECTED], PromiseState.CANCELLED),
    ],
)
def test_invalid_transitions_are_refused(path: list[PromiseState], refused: PromiseState) -> None:
    promise = new_promise()
    for state in path:
        transition(promise, state, T0, "step")
    before = (promise.state, len(promise.transitions))
    with pytest.raises(InvalidPromiseTransition):
        transition(promise, refused, T0, "not allowed")
    assert (promise.state, len(promise.transitions)) == before


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        transition(new_promise(), "dialling", datetime(2026, 11, 23, 13, 0), "naive")


@given(st.lists(st.sampled_from(list(PromiseState)), max_size=12))
def test_any_sequence_follows_the_machine(targets: list[PromiseState]) -> None:
    promise = new_promise()
    for step, target in enumerate(targets):
        before = PromiseState(promise.state)
        at = T0 + timedelta(minutes=step)
        if can_transition(before, target):
            transition(promise, target, at, f"step {step}")
            assert promise.state == target.value
        else:
            with pytest.raises(InvalidPromiseTransition):
                transition(promise, target, at, f"step {step}")
            assert promise.state == before.value
    records = promise.transitions
    # The records form one unbroken chain ending in the current state.
    assert records[0].from_state is None
    for earlier, later in itertools.pairwise(records):
        assert later.from_state == earlier.to_state
        assert PromiseState(later.to_state) in ALLOWED[PromiseState(later.from_state)]
    assert records[-1].to_state == promise.state
    if PromiseState(promise.state) in TERMINAL_STATES:
        assert promise.ended_at is not None
