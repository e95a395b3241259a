"""The promise state machine refuses what it does not allow, and records every step."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbacks.models import CallbackPromise, PromiseState
from callbacks.promise import InvalidPromiseTransition, start_promise, transition

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
# The machine as the product rules state it, written out here rather than read from the code under test:
# booked → dialling → connected → completed, or missed, cancelled, moved (or failed), or resolved
# while booked (the caller reached an agent another way); an attempt that
# reaches voicemail or nobody goes back to booked for the next one; a call in progress is not
# cancelled. Nothing leaves an ending.
EXPECTED = {
    ("booked", "dialling"), ("booked", "cancelled"), ("booked", "moved"), ("booked", "missed"), ("booked", "failed"),
    ("dialling", "connected"), ("dialling", "booked"), ("dialling", "missed"), ("dialling", "failed"),
    ("dialling", "cancelled"),
    ("connected", "completed"), ("connected", "failed"),
    ("booked", "resolved"),
}  # fmt: skip
ENDINGS = {"completed", "missed", "cancelled", "moved", "failed", "resolved"}


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


def reach(state: str) -> CallbackPromise:
    """A new promise taken to `state` along the shortest allowed path."""
    paths = {"booked": [], "dialling": ["dialling"], "connected": ["dialling", "connected"]}
    paths |= {"completed": ["dialling", "connected", "completed"]}
    paths |= {ending: [ending] for ending in ("missed", "cancelled", "moved", "failed", "resolved")}
    promise = new_promise()
    for step in paths[state]:
        transition(promise, step, T0, "on the way")
    return promise


@pytest.mark.parametrize("source", [state.value for state in PromiseState])
@pytest.mark.parametrize("target", [state.value for state in PromiseState])
def test_exactly_the_stated_transitions_are_allowed(source: str, target: str) -> None:
    promise = reach(source)
    if (source, target) in EXPECTED:
        transition(promise, target, T0, "allowed")
        assert promise.state == target
        assert (promise.ended_at is not None) == (target in ENDINGS)
    else:
        with pytest.raises(InvalidPromiseTransition):
            transition(promise, target, T0, "refused")
        assert promise.state == source


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        transition(new_promise(), "dialling", datetime(2026, 11, 23, 13, 0), "naive")


@given(st.lists(st.sampled_from(list(PromiseState)), max_size=12))
def test_any_sequence_follows_the_machine(targets: list[PromiseState]) -> None:
    promise = new_promise()
    for step, target in enumerate(targets):
        before = PromiseState(promise.state)
        at = T0 + timedelta(minutes=step)
        if (before.value, target.value) in EXPECTED:
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
        assert (later.from_state, later.to_state) in EXPECTED
    assert records[-1].to_state == promise.state
    assert (promise.ended_at is not None) == (promise.state in ENDINGS)
