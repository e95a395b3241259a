"""The caller's leg of an accepted attempt: dial once, hold for detection, connect, or not reached.

The claim to dial is committed before the network is asked (a `caller_ringing` attempt whose result
is `CALLER_CLAIM`), and the SID is recorded after; if a worker dies in between, the leg's own
requests record the SID (their URLs name the attempt), and recovery settles whatever stays silent —
never by dialling the caller again for the same attempt. Answering-machine detection runs async:
the leg holds until its verdict, then connects a person or leaves the voicemail message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from callbacks.attempt_steps import (
    CALLER_CLAIM,
    after_network_refusal,
    attempt_transaction,
    back_to_booked,
    conference_name,
    fail_attempt,
    give_up,
    lock_attempt,
    release_agent_leg,
)
from callbacks.attempts import (
    DEFAULT_POLICY,
    CallerResult,
    DialPolicy,
    GiveUp,
    Retry,
    caller_result_from_status,
    classify_answered_by,
    dial_policy,
    plan_after_caller,
)
from callbacks.leg_urls import leg_url
from callbacks.models import AttemptState, CallbackAttempt, CallbackPromise, PromiseState
from callbacks.pacing import pacer_for
from callbacks.promise import transition
from callbacks.scheduling import caller_dial_job_id, enqueue_after_commit, unschedule_after_commit
from routing.agents import agent_on_call
from routing.distribution import free_agent
from routing.models import Contact, ContactChannel, ContactOutcome
from telephony.outbox import queue_sms
from telephony.port import OutboundCall, PermanentTelephonyError, RetryableTelephonyError
from terugbel.db import rows_changed
from terugbel.i18n import format_moment, format_window, t
from terugbel.logs import get_logger
from terugbel.phone import display_number, mask
from terugbel.runtime import current_runtime
from terugbel.tallies import DIAL_OUTCOMES, tally_after_commit
from terugbel.unit_of_work import AfterCommit

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)

A = AttemptState
S = PromiseState
MAX_HOLD_POLLS = 45  # one second each: longer than any answering-machine detection takes


def dial_caller_job(attempt_id: int, failures: int = 0) -> str:
    """RQ job: place the caller's leg of an attempt the agent accepted."""
    return dial_caller(current_runtime(), attempt_id, failures)


def dial_caller_after_commit(
    after: AfterCommit, attempt_id: int, failures: int = 0, at: datetime | None = None
) -> None:
    """Put the job that dials the attempt's caller on the dial queue once the transaction has committed."""
    enqueue_after_commit(
        after, dial_caller_job, attempt_id, failures, job_id=caller_dial_job_id(attempt_id, failures), at=at
    )


def dial_caller(runtime: Runtime, attempt_id: int, failures: int = 0, policy: DialPolicy = DEFAULT_POLICY) -> str:
    """Place the caller's leg of an accepted attempt, once: the claim is committed before the dial."""
    now = runtime.clock.now()
    number: str | None = None
    with runtime.db.session() as session:
        promise_state = session.scalar(
            select(CallbackPromise.state)
            .join(CallbackAttempt, CallbackAttempt.promise_id == CallbackPromise.id)
            .where(CallbackAttempt.id == attempt_id)
        )
        if promise_state == S.DIALLING.value:
            claimed = rows_changed(
                session,
                update(CallbackAttempt)
                .where(
                    CallbackAttempt.id == attempt_id,
                    CallbackAttempt.state == A.CALLER_RINGING.value,
                    CallbackAttempt.caller_call_sid.is_(None),
                    CallbackAttempt.result.is_(None),
                )
                .values(result=CALLER_CLAIM, stage_at=now)
                .execution_options(synchronize_session=False),
            )
            if claimed:
                number = session.scalar(
                    select(CallbackPromise.number)
                    .join(CallbackAttempt, CallbackAttempt.promise_id == CallbackPromise.id)
                    .where(CallbackAttempt.id == attempt_id)
                )
    if promise_state != S.DIALLING.value:
        # Cancelled after the agent accepted: nobody to call; free the waiting agent.
        _release_for_closed_promise(runtime, attempt_id)
        return f"promise is {promise_state}"
    if number is None:
        return "already dialled or no longer needed"
    urls = runtime.webhook_urls
    call = OutboundCall(
        to=number,
        from_=runtime.settings.twilio_from_number or "",
        url=leg_url(runtime, urls.caller_answer, attempt=attempt_id, poll=0),
        status_callback=leg_url(runtime, urls.leg_status, attempt=attempt_id, leg="caller"),
        status_callback_events=("answered", "completed"),
        machine_detection="DetectMessageEnd",
        async_amd=True,
        async_amd_status_callback=leg_url(runtime, urls.caller_amd, attempt=attempt_id),
        timeout_seconds=policy.caller_ring_seconds,
        time_limit_seconds=4 * 3600,
    )
    pacer_for(runtime).wait_for_turn()
    try:
        placed = runtime.telephony.place_call(call)
    except RetryableTelephonyError as exc:
        if exc.status is None:
            # No answer at all (a timeout, a dropped connection): Twilio may have placed the call.
            # Keep the claim; the leg's callbacks record it, or recovery plans a new attempt later.
            log.warning("caller leg outcome unknown", attempt=attempt_id, error=str(exc))
            return "caller leg outcome unknown"
        log.warning("caller leg refused by the network", attempt=attempt_id, error=str(exc))
        _caller_leg_refused(runtime, attempt_id, failures + 1, policy)
        return "network refused the caller leg"
    except PermanentTelephonyError as exc:
        log.warning("caller number cannot be called", attempt=attempt_id, number=mask(number), error=str(exc))
        _caller_number_failed(runtime, attempt_id, str(exc))
        return "invalid number"
    with runtime.db.session() as session:
        session.execute(
            update(CallbackAttempt)
            .where(CallbackAttempt.id == attempt_id, CallbackAttempt.caller_call_sid.is_(None))
            .values(caller_call_sid=placed.sid)
            .execution_options(synchronize_session=False)
        )
    return "caller ringing"


def _release_for_closed_promise(runtime: Runtime, attempt_id: int) -> None:
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, _promise = locked
        if attempt.state != A.CALLER_RINGING.value or attempt.caller_call_sid:
            return
        fail_attempt(session, after, attempt, now, "promise closed before the caller was dialled")


def _caller_leg_refused(runtime: Runtime, attempt_id: int, failures: int, policy: DialPolicy) -> None:
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, promise = locked
        if attempt.state != A.CALLER_RINGING.value or attempt.caller_call_sid or attempt.result != CALLER_CLAIM:
            return
        step = after_network_refusal(promise, now, failures, policy)
        if isinstance(step, Retry):
            attempt.result = None  # unclaimed: the retry job claims it again
            dial_caller_after_commit(after, attempt_id, failures, at=step.at)
            return
        fail_attempt(session, after, attempt, now, "network refused")
        give_up(session, after, promise, now, step.reason)


def _caller_number_failed(runtime: Runtime, attempt_id: int, reason: str) -> None:
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, promise = locked
        if attempt.state != A.CALLER_RINGING.value or attempt.caller_call_sid:
            return
        fail_attempt(session, after, attempt, now, "invalid number")
        tally_after_commit(session, DIAL_OUTCOMES, {"outcome": CallerResult.FAILED.value})
        old_window = format_window(promise.window_start, promise.window_end, promise.timezone, promise.language, now)
        transition(promise, S.FAILED, now, "invalid number")
        promise.reason = f"invalid number: {reason}"[:200]
        unschedule_after_commit(after, promise.id)
        # Texting may work where calling did not (or fail in the outbox, which records why).
        body = t(
            promise.language, "cbd_sms_number_failed", old_window=old_window, number=display_number(promise.number)
        )
        queue_sms(session, to=promise.number, body=body, purpose="promise_failed", now=now, promise_id=promise.id)


def _note_caller_sid(attempt: CallbackAttempt, call_sid: str) -> None:
    """A request of a caller leg whose SID a crashed worker never recorded: record it now."""
    if attempt.caller_call_sid is None and attempt.state == A.CALLER_RINGING.value and attempt.result == CALLER_CLAIM:
        attempt.caller_call_sid = call_sid


@dataclass(frozen=True)
class CallerStep:
    """What the caller's leg does next: hold (detection running), connect, voicemail, or a goodbye."""

    kind: str  # hold, connect, voicemail, goodbye
    text: str = ""
    language: str = "nl"
    conference: str | None = None


def caller_answer(
    runtime: Runtime, attempt_id: int, call_sid: str, poll: int, policy: DialPolicy | None = None
) -> CallerStep:
    """The caller's leg asks what to do: wait for detection, or connect a person, or leave a message."""
    now = runtime.clock.now()
    policy = policy or dial_policy(runtime.settings)
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return CallerStep("goodbye")
        attempt, promise = locked
        _note_caller_sid(attempt, call_sid)
        lang = promise.language
        if attempt.caller_call_sid != call_sid:
            return CallerStep("goodbye", language=lang)
        if attempt.state == A.CONNECTED.value:
            return _connect_step(promise, attempt_id)
        if attempt.state == A.VOICEMAIL.value:
            return _voicemail_step(promise, now)
        if attempt.state != A.CALLER_RINGING.value:
            return _agent_gone_step(promise, now)
        if promise.state != S.DIALLING.value:
            return CallerStep("goodbye", language=lang)  # cancelled while the phone rang
        detected = classify_answered_by(attempt.answered_by)
        if detected is None and poll < MAX_HOLD_POLLS:
            return CallerStep("hold", language=lang)
        if detected is CallerResult.VOICEMAIL:
            _caller_not_reached(session, after, promise, attempt, now, CallerResult.VOICEMAIL, policy)
            return _voicemail_step(promise, now)
        attempt.state = A.CONNECTED.value
        attempt.stage_at = now
        attempt.answered_by = attempt.answered_by or "unknown"
        transition(promise, S.CONNECTED, now, f"caller answered attempt {attempt.number}")
        promise.agent_id = attempt.agent_id
        agent_on_call(session, attempt.agent_id, now)
        tally_after_commit(session, DIAL_OUTCOMES, {"outcome": "answered"})
        session.add(
            Contact(
                caller_id=promise.caller_id,
                channel=ContactChannel.CALLBACK.value,
                call_sid=call_sid,
                intent_id=promise.intent_id,
                transcript=promise.problem,
                path=["callback"],
                outcome=ContactOutcome.AGENT.value,
                queue_id=promise.queue_id,
                agent_id=attempt.agent_id,
                started_at=now,
                routed_at=now,
                continues_contact_id=promise.contact_id,  # one contact with the call that booked it
            )
        )
        return _connect_step(promise, attempt_id)


def _connect_step(promise: CallbackPromise, attempt_id: int) -> CallerStep:
    problem = (promise.problem or "").strip()
    text = (
        t(promise.language, "cbd_caller_intro", problem=problem)
        if problem
        else t(promise.language, "cbd_caller_intro_plain")
    )
    return CallerStep("connect", text, promise.language, conference_name(attempt_id))


def _voicemail_step(promise: CallbackPromise, now: datetime) -> CallerStep:
    if promise.state == S.BOOKED.value and promise.next_attempt_at is not None:
        moment = format_moment(promise.next_attempt_at, promise.timezone, promise.language, now)
        return CallerStep("voicemail", t(promise.language, "cbd_voicemail", moment=moment), promise.language)
    return CallerStep("voicemail", t(promise.language, "cbd_voicemail_last"), promise.language)


def _agent_gone_step(promise: CallbackPromise, now: datetime) -> CallerStep:
    if promise.state == S.BOOKED.value and promise.next_attempt_at is not None:
        moment = format_moment(promise.next_attempt_at, promise.timezone, promise.language, now)
        return CallerStep("goodbye", t(promise.language, "cbd_caller_agent_gone", moment=moment), promise.language)
    return CallerStep("goodbye", t(promise.language, "cbd_voicemail_last"), promise.language)


def caller_detected(runtime: Runtime, attempt_id: int, call_sid: str, answered_by: str) -> None:
    """Async AMD's verdict for the caller's leg: kept for the leg's next request."""
    with runtime.db.session() as session:
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, _promise = locked
        _note_caller_sid(attempt, call_sid)
        if attempt.caller_call_sid == call_sid and attempt.answered_by is None:
            attempt.answered_by = answered_by[:24]


def caller_leg_ended(
    runtime: Runtime,
    attempt_id: int,
    call_sid: str,
    status: str,
    answered_by: str | None = None,
    policy: DialPolicy | None = None,
) -> str:
    """The caller's leg is over: complete a connected promise, or plan the next attempt."""
    now = runtime.clock.now()
    policy = policy or dial_policy(runtime.settings)
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return "unknown attempt"
        attempt, promise = locked
        _note_caller_sid(attempt, call_sid)
        if attempt.caller_call_sid != call_sid:
            return "other leg"
        if attempt.answered_by is None and answered_by:
            attempt.answered_by = answered_by[:24]
        if attempt.state == A.CONNECTED.value:
            attempt.state = A.COMPLETED.value
            attempt.ended_at = now
            attempt.result = "connected"
            transition(promise, S.COMPLETED, now, "call ended")
            contact = session.scalars(select(Contact).where(Contact.call_sid == call_sid)).first()
            if contact is not None:
                contact.ended_at = now
            return "completed"
        if attempt.state == A.CALLER_RINGING.value:
            _caller_not_reached(session, after, promise, attempt, now, caller_result_from_status(status), policy)
            return attempt.state
        return "nothing"


def _caller_not_reached(
    session: Session,
    after: AfterCommit,
    promise: CallbackPromise,
    attempt: CallbackAttempt,
    now: datetime,
    result: CallerResult,
    policy: DialPolicy,
) -> None:
    attempt.state = {
        CallerResult.VOICEMAIL: A.VOICEMAIL,
        CallerResult.BUSY: A.BUSY,
        CallerResult.NO_ANSWER: A.NO_ANSWER,
        CallerResult.FAILED: A.FAILED,
    }[result].value
    attempt.ended_at = now
    attempt.result = result.value
    attempt.stage_at = now
    tally_after_commit(session, DIAL_OUTCOMES, {"outcome": result.value})
    free_agent(session, attempt.agent_id, now)
    release_agent_leg(after, attempt)
    session.flush()
    step = plan_after_caller(
        result,
        now=now,
        window_start=promise.window_start,
        window_end=promise.window_end,
        caller_tries=_caller_tries(session, promise.id),
        same_result_tries=_caller_tries(session, promise.id, attempt.state),
        policy=replace(policy, max_attempts=promise.max_attempts),  # the promise's own maximum
    )
    if isinstance(step, GiveUp):
        give_up(session, after, promise, now, step.reason)
        return
    back_to_booked(after, promise, now, step.at, result.value)
    if result is CallerResult.VOICEMAIL:
        moment = format_moment(step.at, promise.timezone, promise.language, now)
        body = t(promise.language, "cbd_sms_next_attempt", moment=moment, number=display_number(promise.number))
        queue_sms(session, to=promise.number, body=body, purpose="next_attempt", now=now, promise_id=promise.id)


def _caller_tries(session: Session, promise_id: int, state: str | None = None) -> int:
    """Caller legs placed for the promise (those that ended in `state`, when given)."""
    query = (
        select(func.count())
        .select_from(CallbackAttempt)
        .where(CallbackAttempt.promise_id == promise_id, CallbackAttempt.caller_call_sid.is_not(None))
    )
    if state is not None:
        query = query.where(CallbackAttempt.state == state)
    return int(session.scalar(query) or 0)
