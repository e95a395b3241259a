"""The callback promise as an explicit state machine; every transition is recorded.

booked → dialling → connected → completed, or missed, cancelled, moved, failed, or resolved (the
caller reached an agent another way while it was booked). A dial attempt that reaches voicemail or
nobody goes back from dialling to booked for the next attempt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.models import CallbackPromise, PromiseState, PromiseTransition
from terugbel.clock import ensure_utc

S = PromiseState

ALLOWED: dict[PromiseState, frozenset[PromiseState]] = {
    S.BOOKED: frozenset({S.DIALLING, S.CANCELLED, S.MOVED, S.MISSED, S.FAILED, S.RESOLVED}),
    # Back to booked: the attempt failed (voicemail, busy, no agent) and another one is planned.
    S.DIALLING: frozenset({S.CONNECTED, S.BOOKED, S.MISSED, S.FAILED, S.CANCELLED}),
    S.CONNECTED: frozenset({S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.MISSED: frozenset(),
    S.CANCELLED: frozenset(),
    S.MOVED: frozenset(),
    S.FAILED: frozenset(),
    S.RESOLVED: frozenset(),
}

TERMINAL_STATES = frozenset(state for state, targets in ALLOWED.items() if not targets)


class InvalidPromiseTransition(ValueError):
    """A promise was asked to go to a state it cannot reach from where it is."""

    def __init__(self, promise_id: int | None, from_state: str, to_state: str) -> None:
        super().__init__(f"promise {promise_id}: {from_state} → {to_state} is not allowed")
        self.promise_id = promise_id
        self.from_state = from_state
        self.to_state = to_state


def can_transition(from_state: str, to_state: str) -> bool:
    """Return whether the state machine allows from_state → to_state."""
    return PromiseState(to_state) in ALLOWED[PromiseState(from_state)]


def is_open(state: str) -> bool:
    """Return whether a promise in this state still has to be kept."""
    return PromiseState(state) not in TERMINAL_STATES


def start_promise(promise: CallbackPromise, at: datetime, cause: str) -> PromiseTransition:
    """Record the birth of a promise (None → booked)."""
    promise.state = PromiseState.BOOKED.value
    record = PromiseTransition(from_state=None, to_state=PromiseState.BOOKED.value, at=ensure_utc(at), cause=cause)
    promise.transitions.append(record)
    return record


def transition(promise: CallbackPromise, to_state: PromiseState | str, at: datetime, cause: str) -> PromiseTransition:
    """Move the promise to `to_state` and record when and why; refuse what the machine forbids."""
    target = PromiseState(to_state)
    if not can_transition(promise.state, target):
        raise InvalidPromiseTransition(promise.id, promise.state, target.value)
    at = ensure_utc(at)
    record = PromiseTransition(from_state=promise.state, to_state=target.value, at=at, cause=cause[:200])
    promise.transitions.append(record)
    promise.state = target.value
    if target is S.DIALLING and promise.first_dial_at is None:
        promise.first_dial_at = at
    elif target is S.CONNECTED:
        promise.connected_at = at
    if target in TERMINAL_STATES:
        promise.ended_at = at
    return record


def lock_promise(session: Session, promise_id: int) -> CallbackPromise | None:
    """The promise, locked for this transaction and read fresh (None if there is no such promise)."""
    return session.scalars(
        select(CallbackPromise)
        .where(CallbackPromise.id == promise_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
