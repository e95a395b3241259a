"""Steps both legs share: lock an attempt, end it, steer a live leg, back to booked, or give up.

Every step of a dial is one transaction (`attempt_transaction`) guarded by the state it expects:
the promise's and the attempt's rows are locked, so a job that runs twice, a duplicate or late
status callback, or a request arriving after a crash finds the state already moved and does
nothing. What must follow the commit (a dial job, a text, redirecting or ending a live leg) goes on
the transaction's after-commit list.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.attempts import DialPolicy, NextStep, plan_after_network_error
from callbacks.leg_urls import leg_url
from callbacks.missed import rebook_after_commit
from callbacks.models import AttemptState, CallbackAttempt, CallbackPromise, PromiseState
from callbacks.promise import lock_promise, transition
from callbacks.scheduling import schedule_after_commit, unschedule_after_commit
from routing.distribution import free_agent
from telephony.port import TelephonyError
from terugbel.audit import record_audit
from terugbel.logs import get_logger
from terugbel.phone import mask
from terugbel.unit_of_work import AfterCommit, after_commit, unit_of_work

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)

A = AttemptState
S = PromiseState
CALLER_CLAIM = "dialling the caller"  # result of a caller_ringing attempt whose caller leg is being placed
ACTOR = "dispatch"


@contextmanager
def attempt_transaction(runtime: Runtime) -> Iterator[tuple[Session, AfterCommit]]:
    """One transaction for callback changes, and its after-commit list."""
    with unit_of_work(runtime) as session:
        yield session, after_commit(session)


def lock_attempt(session: Session, attempt_id: int) -> tuple[CallbackAttempt, CallbackPromise] | None:
    """The attempt and its promise, both locked for this transaction and read fresh."""
    attempt = session.scalars(
        select(CallbackAttempt)
        .where(CallbackAttempt.id == attempt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if attempt is None:
        return None
    promise = lock_promise(session, attempt.promise_id)
    assert promise is not None  # attempts cascade with their promise
    return attempt, promise


def conference_name(attempt_id: int) -> str:
    """The conference in which the agent waits for the caller of one attempt."""
    return f"terugbel-callback-{attempt_id}"


# --- live legs, after commit ----------------------------------------------------------------------


def release_agent_leg(after: AfterCommit, attempt: CallbackAttempt) -> None:
    """Tell a waiting agent the caller was not reached and end their leg."""
    if not attempt.agent_call_sid:
        return
    call_sid, agent_id = attempt.agent_call_sid, attempt.agent_id

    def redirect(runtime: Runtime) -> None:
        path = runtime.webhook_urls.agent_released
        # The agent's id tells the released leg which language to speak.
        url = leg_url(runtime, path, agent=agent_id) if agent_id is not None else runtime.url(path)
        try:
            runtime.telephony.redirect_call(call_sid, url=url)
        except TelephonyError as exc:
            # The leg is already over (or the network hiccups): the agent is free either way.
            log.info("agent leg not redirected", call_sid=call_sid, error=str(exc))

    after.add(redirect, key=("redirect", call_sid))


def hang_up_after_commit(after: AfterCommit, call_sid: str) -> None:
    """End a live leg once the transaction has committed."""

    def hang_up(runtime: Runtime) -> None:
        try:
            runtime.telephony.end_call(call_sid)
        except TelephonyError as exc:
            log.info("leg not ended", call_sid=call_sid, error=str(exc))

    after.add(hang_up, key=("hangup", call_sid))


# --- how an attempt ends ---------------------------------------------------------------------------


def fail_attempt(session: Session, after: AfterCommit, attempt: CallbackAttempt, now: datetime, result: str) -> None:
    """End an attempt as failed and let its agent go at once (the leg is told, then hung up)."""
    attempt.state = A.FAILED.value
    attempt.ended_at = now
    attempt.result = result
    free_agent(session, attempt.agent_id, now)
    release_agent_leg(after, attempt)


def after_network_refusal(promise: CallbackPromise, now: datetime, failures: int, policy: DialPolicy) -> NextStep:
    """The network refused a leg `failures` times: when to try again inside the promise's window, or give up."""
    return plan_after_network_error(
        now=now, failures=failures, window_start=promise.window_start, window_end=promise.window_end, policy=policy
    )


def back_to_booked(after: AfterCommit, promise: CallbackPromise, now: datetime, at: datetime, cause: str) -> None:
    """The promise waits for its next attempt at `at` (its dial job is scheduled after commit)."""
    # Whole seconds: RQ schedules by the second, and the announced time is what we dial at.
    if at.microsecond:
        at = at.replace(microsecond=0) + timedelta(seconds=1)
    transition(promise, S.BOOKED, now, cause)
    promise.next_attempt_at = at
    schedule_after_commit(after, promise.id, promise.attempts + 1, at)


def flag_at_risk(session: Session, promise: CallbackPromise, now: datetime, reason: str) -> None:
    """Mark the promise at risk of being missed (once), with an audit entry."""
    if promise.at_risk:
        return
    promise.at_risk = True
    record_audit(
        session,
        at=now,
        actor=ACTOR,
        action="promise_at_risk",
        subject=f"promise {promise.id}",
        details={"reason": reason, "window_end": promise.window_end.isoformat()},
    )


def give_up(session: Session, after: AfterCommit, promise: CallbackPromise, now: datetime, reason: str) -> None:
    """The promise cannot be kept: mark it missed; once that commits, a new time is booked and texted."""
    transition(promise, S.MISSED, now, reason)
    promise.reason = reason[:200]
    promise.next_attempt_at = None
    flag_at_risk(session, promise, now, reason)
    unschedule_after_commit(after, promise.id)
    rebook_after_commit(after, promise.id)
    log.warning("promise given up", promise=promise.id, reason=reason, number=mask(promise.number))
