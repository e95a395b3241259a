"""The agent's leg of an attempt: start the attempt, reserve and ring an agent, the whisper, accept or pass.

Agent first: an attempt begins by reserving an available agent of the promise's queue (committed
on an `intended` attempt before the network is asked) and ringing them with a whisper. The agent
presses 1 (the caller is dialled while the agent waits in the conference) or 2, or does not answer
(the next agent is rung). If a worker dies between placing the leg and recording its SID, the leg's
own requests record it (their URLs name the attempt and agent), and recovery settles the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callbacks.agent_choice import reserve_agent
from callbacks.attempt_steps import (
    after_network_refusal,
    attempt_transaction,
    back_to_booked,
    conference_name,
    flag_at_risk,
    give_up,
    hang_up_after_commit,
    lock_attempt,
)
from callbacks.attempts import (
    DEFAULT_POLICY,
    DialPolicy,
    Retry,
    is_due,
    last_dial_start,
    plan_without_agent,
)
from callbacks.caller_leg import dial_caller_after_commit
from callbacks.leg_urls import leg_url
from callbacks.models import AttemptState, CallbackAttempt, CallbackPromise, PromiseState
from callbacks.pacing import pacer_for
from callbacks.promise import lock_promise, transition
from callbacks.scheduling import agent_ring_job_id, enqueue_after_commit, job_id_for
from callbacks.whisper import Whisper, whisper_text
from routing.agents import agent_language
from routing.distribution import free_agent
from routing.models import Contact
from routing.wrap_up import start_wrap_up
from telephony.port import OutboundCall, PermanentTelephonyError, RetryableTelephonyError
from terugbel.logs import get_logger
from terugbel.runtime import current_runtime
from terugbel.tallies import (
    FIRST_DIAL_DELAY,
    FIRST_DIAL_DELAY_BUCKETS,
    LATE_CALLBACKS,
    observe_after_commit,
    tally_after_commit,
)
from terugbel.unit_of_work import AfterCommit

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)

A = AttemptState
S = PromiseState


def ring_agent(attempt_id: int, failures: int = 0) -> str:
    """RQ job: ring the next available agent for an attempt (after a pass, no answer, or a network refusal)."""
    return ring_next_agent(current_runtime(), attempt_id, failures)


def ring_agent_after_commit(
    after: AfterCommit, attempt_id: int, agents_tried: int, failures: int = 0, at: datetime | None = None
) -> None:
    """Put the job that rings the attempt's next agent on the dial queue once the transaction has committed."""
    job_id = agent_ring_job_id(attempt_id, agents_tried, failures)
    enqueue_after_commit(after, ring_agent, attempt_id, failures, job_id=job_id, at=at)


def start_attempt(runtime: Runtime, promise_id: int, attempt: int, policy: DialPolicy = DEFAULT_POLICY) -> str:
    """Begin attempt `attempt` of a booked promise that is due, then ring an agent; return what happened."""
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        promise = lock_promise(session, promise_id)
        if promise is None:
            return "unknown promise"
        if promise.state != S.BOOKED.value:
            return f"promise is {promise.state}"
        if promise.attempts != attempt - 1:
            return f"attempt {attempt} is not the next one"
        due = promise.next_attempt_at or promise.planned_dial_at
        if not is_due(due, now, policy):
            return "not due yet"  # the reconciler puts a job back for the right time
        if now > last_dial_start(promise.window_start, promise.window_end, policy):
            give_up(session, after, promise, now, "too late in the window to dial")
            return "given up"
        if promise.first_dial_at is None:
            _count_first_dial(session, promise, now)
        transition(promise, S.DIALLING, now, f"attempt {attempt}")
        promise.attempts = attempt
        promise.job_id = job_id_for(promise.id, attempt)
        promise.next_attempt_at = None
        record = CallbackAttempt(
            promise_id=promise.id,
            number=attempt,
            state=A.INTENDED.value,
            started_at=now,
            stage_at=now,
            agents_tried=[],
        )
        session.add(record)
        session.flush()
        attempt_id = record.id
    return ring_next_agent(runtime, attempt_id, policy=policy)


def _count_first_dial(session: Session, promise: CallbackPromise, now: datetime) -> None:
    """How long after its window opened a callback was first dialled, and whether that was too late."""
    delay = max(0.0, (now - promise.window_start).total_seconds())
    observe_after_commit(session, FIRST_DIAL_DELAY, delay, FIRST_DIAL_DELAY_BUCKETS)
    if now > promise.window_end:
        tally_after_commit(session, LATE_CALLBACKS)


def ring_next_agent(runtime: Runtime, attempt_id: int, failures: int = 0, policy: DialPolicy = DEFAULT_POLICY) -> str:
    """Reserve the next agent for the attempt and ring them with the whisper."""
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return "unknown attempt"
        attempt, promise = locked
        if attempt.state != A.INTENDED.value or promise.state != S.DIALLING.value:
            return f"attempt is {attempt.state}"
        if attempt.agent_id is not None:
            return "an agent leg is being placed"
        if now > last_dial_start(promise.window_start, promise.window_end, policy):
            # The next agent's ring and whisper would push the caller's phone past the window.
            attempt.state = A.NO_AGENT.value
            attempt.ended_at = now
            attempt.result = "no agent in time"
            give_up(session, after, promise, now, "too late in the window for another agent")
            return "given up"
        agent = reserve_agent(session, promise, list(attempt.agents_tried or []), now)
        if agent is None:
            _end_without_agent(session, after, promise, attempt, now, policy)
            return "no agent free"
        attempt.agent_id = agent.id
        attempt.stage_at = now
        agent_id, agent_phone = agent.id, agent.phone
    urls = runtime.webhook_urls
    call = OutboundCall(
        to=agent_phone,
        from_=runtime.settings.twilio_from_number or "",
        url=leg_url(runtime, urls.agent_whisper, attempt=attempt_id, agent=agent_id),
        status_callback=leg_url(runtime, urls.leg_status, attempt=attempt_id, leg="agent", agent=agent_id),
        status_callback_events=("answered", "completed"),
        timeout_seconds=policy.agent_ring_seconds,
        time_limit_seconds=4 * 3600,
    )
    pacer_for(runtime).wait_for_turn()
    try:
        placed = runtime.telephony.place_call(call)
    except RetryableTelephonyError as exc:
        log.warning("agent leg refused by the network", attempt=attempt_id, error=str(exc))
        _agent_leg_not_placed(runtime, attempt_id, agent_id, failures + 1, policy, tried=False)
        return "network refused the agent leg"
    except PermanentTelephonyError as exc:
        log.warning("agent phone cannot be called", attempt=attempt_id, agent=agent_id, error=str(exc))
        _agent_leg_not_placed(runtime, attempt_id, agent_id, 0, policy, tried=True)
        return "agent phone refused"
    with runtime.db.session() as session:
        session.execute(
            update(CallbackAttempt)
            .where(
                CallbackAttempt.id == attempt_id,
                CallbackAttempt.state == A.INTENDED.value,
                CallbackAttempt.agent_id == agent_id,
                CallbackAttempt.agent_call_sid.is_(None),
            )
            .values(agent_call_sid=placed.sid, state=A.AGENT_RINGING.value, stage_at=runtime.clock.now())
            .execution_options(synchronize_session=False)
        )
    return "agent ringing"


def _agent_leg_not_placed(
    runtime: Runtime, attempt_id: int, agent_id: int, failures: int, policy: DialPolicy, *, tried: bool
) -> None:
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, promise = locked
        if attempt.state != A.INTENDED.value or attempt.agent_id != agent_id or attempt.agent_call_sid:
            return
        free_agent(session, agent_id, now)
        attempt.agent_id = None
        attempt.stage_at = now
        if tried:
            attempt.agents_tried = [*(attempt.agents_tried or []), agent_id]
            ring_agent_after_commit(after, attempt_id, len(attempt.agents_tried))
            return
        step = after_network_refusal(promise, now, failures, policy)
        if isinstance(step, Retry):
            ring_agent_after_commit(after, attempt_id, len(attempt.agents_tried or []), failures, at=step.at)
        else:
            attempt.state = A.FAILED.value
            attempt.ended_at = now
            attempt.result = "network refused"
            give_up(session, after, promise, now, step.reason)


def _end_without_agent(
    session: Session,
    after: AfterCommit,
    promise: CallbackPromise,
    attempt: CallbackAttempt,
    now: datetime,
    policy: DialPolicy,
) -> None:
    attempt.state = A.NO_AGENT.value
    attempt.ended_at = now
    attempt.result = "no agent free"
    flag_at_risk(session, promise, now, "no agent free")
    step = plan_without_agent(now=now, window_start=promise.window_start, window_end=promise.window_end, policy=policy)
    if isinstance(step, Retry):
        back_to_booked(after, promise, now, step.at, "no agent free")
    else:
        give_up(session, after, promise, now, step.reason)


def _note_agent_sid(attempt: CallbackAttempt, agent_id: int, call_sid: str, now: datetime) -> None:
    """A request of an agent leg whose SID a crashed worker never recorded: record it now."""
    if attempt.state == A.INTENDED.value and attempt.agent_id == agent_id and attempt.agent_call_sid is None:
        attempt.agent_call_sid = call_sid
        attempt.state = A.AGENT_RINGING.value
        attempt.stage_at = now


def agent_whisper(runtime: Runtime, attempt_id: int, agent_id: int, call_sid: str) -> Whisper | None:
    """What the agent hears before choosing, in the agent's language: who, the problem, the history."""
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, _after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return None
        attempt, promise = locked
        _note_agent_sid(attempt, agent_id, call_sid, now)
        if attempt.state != A.AGENT_RINGING.value or attempt.agent_call_sid != call_sid:
            return None
        language = agent_language(session, agent_id)
        return Whisper(whisper_text(session, promise, now, language), language)


def agent_prompt_language(runtime: Runtime, agent_id: int | None) -> str:
    """The language the agent's leg speaks: the agent's own (Dutch for an agent no longer known)."""
    with runtime.db.session() as session:
        return agent_language(session, agent_id)


def agent_accepts(runtime: Runtime, attempt_id: int, agent_id: int, call_sid: str) -> str | None:
    """The agent pressed 1: dial the caller; return the conference the agent waits in (None: not needed)."""
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return None
        attempt, promise = locked
        _note_agent_sid(attempt, agent_id, call_sid, now)
        if attempt.agent_call_sid != call_sid or promise.state not in (S.DIALLING.value, S.CONNECTED.value):
            return None
        if attempt.state == A.AGENT_RINGING.value:
            attempt.state = A.CALLER_RINGING.value
            attempt.stage_at = now
            attempt.result = None
            dial_caller_after_commit(after, attempt_id)
            return conference_name(attempt_id)
        if attempt.state in (A.CALLER_RINGING.value, A.CONNECTED.value):
            return conference_name(attempt_id)  # the same request again: same answer, nothing twice
        return None


def agent_passes(runtime: Runtime, attempt_id: int, agent_id: int, call_sid: str | None) -> bool:
    """The agent pressed 2, did not answer, or hung up in the whisper: ring the next agent."""
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return False
        attempt, promise = locked
        if attempt.agent_id != agent_id or promise.state != S.DIALLING.value:
            return False
        if attempt.state not in (A.INTENDED.value, A.AGENT_RINGING.value):
            return False
        if call_sid is not None and attempt.agent_call_sid not in (None, call_sid):
            return False
        tried = [*(attempt.agents_tried or []), agent_id]
        attempt.agents_tried = tried
        free_agent(session, agent_id, now)
        attempt.agent_id = None
        attempt.agent_call_sid = None
        attempt.state = A.INTENDED.value
        attempt.stage_at = now
        ring_agent_after_commit(after, attempt_id, len(tried))
        return True


def agent_leg_ended(runtime: Runtime, attempt_id: int, agent_id: int, call_sid: str, status: str) -> str:
    """The agent's leg is over: pass on when it never accepted, release the agent in every case."""
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return "unknown attempt"
        attempt, promise = locked
        if attempt.agent_id != agent_id or attempt.agent_call_sid not in (None, call_sid):
            # An earlier agent's leg (who passed and was released then): nothing to do.
            return "earlier leg"
        if attempt.state in (A.INTENDED.value, A.AGENT_RINGING.value):
            pass_on = True
        elif attempt.state == A.CALLER_RINGING.value:
            # The agent hung up while the caller's phone rang: stop that leg, try again shortly.
            if attempt.caller_call_sid:
                hang_up_after_commit(after, attempt.caller_call_sid)
            attempt.state = A.FAILED.value
            attempt.ended_at = now
            attempt.result = "the agent left before the caller answered"
            free_agent(session, agent_id, now)
            step = plan_without_agent(now=now, window_start=promise.window_start, window_end=promise.window_end)
            if isinstance(step, Retry):
                back_to_booked(after, promise, now, step.at, "agent left")
            else:
                give_up(session, after, promise, now, step.reason)
            return "agent left"
        else:
            # Released already when the caller was not reached; a talking agent wraps up now.
            if attempt.state in (A.CONNECTED.value, A.COMPLETED.value):
                start_wrap_up(session, agent_id, now, outcome_recorded=_outcome_recorded(session, attempt))
            return "agent released"
    if pass_on:
        agent_passes(runtime, attempt_id, agent_id, call_sid)
        return f"agent leg {status}: passed on"
    return "nothing"


def _outcome_recorded(session: Session, attempt: CallbackAttempt) -> bool:
    """Whether the agent gave their verdict on the call already (a key at its end)."""
    if attempt.caller_call_sid is None:
        return False
    contact = session.scalars(select(Contact).where(Contact.call_sid == attempt.caller_call_sid)).first()
    return contact is not None and contact.resolved is not None


def record_outcome(runtime: Runtime, attempt_id: int, resolved: bool) -> bool:
    """The agent's verdict at the end of the call: resolved, or follow-up needed; the contact keeps it."""
    with runtime.db.session() as session:
        attempt = session.get(CallbackAttempt, attempt_id)
        if attempt is None or attempt.caller_call_sid is None:
            return False
        contact = session.scalars(select(Contact).where(Contact.call_sid == attempt.caller_call_sid)).first()
        if contact is None:
            return False
        contact.resolved = resolved
        return True
