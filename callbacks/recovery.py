"""Recovery: settle attempts nobody heard of for too long, after a crashed worker or lost callbacks.

A leg we intended to place but heard nothing of is asked about (fetched by its SID) or forgotten;
a lost job is put back. A claimed caller leg without news is never dialled again for the same
attempt: the promise goes back to booked for a new attempt (or is given up after its window).
The reconciler runs this on every pass.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from callbacks.agent_leg import agent_leg_ended, ring_agent, ring_agent_after_commit
from callbacks.attempt_steps import (
    CALLER_CLAIM,
    attempt_transaction,
    back_to_booked,
    fail_attempt,
    give_up,
    lock_attempt,
)
from callbacks.attempts import DEFAULT_POLICY, DialPolicy, last_dial_start
from callbacks.caller_leg import caller_leg_ended, dial_caller_job
from callbacks.models import AttemptState, CallbackAttempt, CallbackPromise, PromiseState
from callbacks.scheduling import agent_ring_job_id, caller_dial_job_id, enqueue_dial_step
from routing.distribution import free_agent
from telephony.call_status import is_final_status
from telephony.port import TelephonyError
from terugbel.logs import get_logger

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)

A = AttemptState
S = PromiseState


def recover_stale_attempts(runtime: Runtime, policy: DialPolicy = DEFAULT_POLICY) -> list[int]:
    """Settle attempts nobody heard of for too long (a crashed worker, lost callbacks); return their ids."""
    now = runtime.clock.now()
    lost_before = now - policy.lost_leg_after
    with runtime.db.session() as session:
        rows = session.execute(
            select(CallbackAttempt.id, CallbackAttempt.state, CallbackAttempt.stage_at)
            .join(CallbackPromise, CallbackPromise.id == CallbackAttempt.promise_id)
            .where(
                CallbackPromise.state.in_([S.DIALLING.value, S.CONNECTED.value]),
                CallbackAttempt.state.in_(
                    [A.INTENDED.value, A.AGENT_RINGING.value, A.CALLER_RINGING.value, A.CONNECTED.value]
                ),
            )
        ).all()
    recovered = []
    for attempt_id, state, stage_at in rows:
        limit = now - policy.stale_connected_after if state == A.CONNECTED.value else lost_before
        if stage_at is not None and stage_at > limit:
            continue
        if _recover_attempt(runtime, attempt_id, policy):
            recovered.append(attempt_id)
    return recovered


def _recover_attempt(runtime: Runtime, attempt_id: int, policy: DialPolicy) -> bool:
    now = runtime.clock.now()
    with runtime.db.session() as session:
        attempt = session.get(CallbackAttempt, attempt_id)
        if attempt is None:
            return False
        state, agent_id, agents_tried = attempt.state, attempt.agent_id, len(attempt.agents_tried or [])
        agent_sid, caller_sid, result = attempt.agent_call_sid, attempt.caller_call_sid, attempt.result
    if state == A.INTENDED.value:
        if agent_id is None:
            # The job that rings the next agent was lost (a flushed Redis): ring again.
            job_id = agent_ring_job_id(attempt_id, agents_tried)
            enqueue_dial_step(runtime.redis, ring_agent, attempt_id, 0, job_id=job_id)
            return True
        # Reserved but never heard of: the worker died before or while placing the agent leg.
        return _forget_lost_agent_leg(runtime, attempt_id, agent_id)
    if state == A.AGENT_RINGING.value and agent_sid and agent_id is not None:
        record = _fetch(runtime, agent_sid)
        if record is not None and is_final_status(record.status):
            agent_leg_ended(runtime, attempt_id, agent_id, agent_sid, record.status)
            return True
        return False
    if state == A.CALLER_RINGING.value:
        if caller_sid:
            record = _fetch(runtime, caller_sid)
            if record is not None and is_final_status(record.status):
                caller_leg_ended(runtime, attempt_id, caller_sid, record.status, record.answered_by, policy)
                return True
            return False
        if result is None:
            enqueue_dial_step(runtime.redis, dial_caller_job, attempt_id, 0, job_id=caller_dial_job_id(attempt_id))
            return True
        return _forget_lost_caller_leg(runtime, attempt_id, now)
    if state == A.CONNECTED.value and caller_sid:
        record = _fetch(runtime, caller_sid)
        if record is not None and is_final_status(record.status):
            caller_leg_ended(runtime, attempt_id, caller_sid, record.status, record.answered_by, policy)
            return True
    return False


def _fetch(runtime: Runtime, call_sid: str) -> Any:
    try:
        return runtime.telephony.fetch_call(call_sid)
    except TelephonyError as exc:
        log.info("call not fetched", call_sid=call_sid, error=str(exc))
        return None


def _forget_lost_agent_leg(runtime: Runtime, attempt_id: int, agent_id: int) -> bool:
    now = runtime.clock.now()
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return False
        attempt, _promise = locked
        if attempt.state != A.INTENDED.value or attempt.agent_id != agent_id or attempt.agent_call_sid:
            return False
        free_agent(session, agent_id, now)
        attempt.agent_id = None
        attempt.stage_at = now
        ring_agent_after_commit(after, attempt_id, len(attempt.agents_tried or []))
        return True


def _forget_lost_caller_leg(runtime: Runtime, attempt_id: int, now: datetime) -> bool:
    """A claimed caller leg with no SID and no news: never dial again for this attempt; plan the next one."""
    with attempt_transaction(runtime) as (session, after):
        locked = lock_attempt(session, attempt_id)
        if locked is None:
            return False
        attempt, promise = locked
        if attempt.state != A.CALLER_RINGING.value or attempt.caller_call_sid or attempt.result != CALLER_CLAIM:
            return False
        fail_attempt(session, after, attempt, now, "caller leg lost")
        if now <= last_dial_start(promise.window_start, promise.window_end):
            back_to_booked(after, promise, now, now, "caller leg lost")
        else:
            give_up(session, after, promise, now, "caller leg lost too late in the window")
        return True
