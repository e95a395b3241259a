"""Attempts a crashed worker left half done are settled from the database, never by dialling the caller twice."""

from __future__ import annotations

from datetime import timedelta

from rq.job import Job
from rq.registry import ScheduledJobRegistry

from callbacks import scheduling
from callbacks.attempt_steps import CALLER_CLAIM
from callbacks.caller_leg import dial_caller
from callbacks.models import AttemptState, CallbackAttempt, CallbackPromise, PromiseState
from callbacks.recovery import recover_stale_attempts
from callbacks.timeline import promise_timeline
from routing.models import Agent, AgentState
from terugbel.redis_conn import DIAL_QUEUE, queue
from terugbel.runtime import Runtime
from tests.integration.dispatch_support import add_attempt_in_flight


def _stuck_attempt(runtime, make_queue, make_agent, clock, **fields):
    return add_attempt_in_flight(runtime.db, make_queue, make_agent, clock, **fields)


def test_a_fresh_attempt_is_left_alone(runtime, make_queue, make_agent, clock) -> None:
    _stuck_attempt(runtime, make_queue, make_agent, clock, state=AttemptState.INTENDED.value)
    clock.advance(seconds=30)
    assert recover_stale_attempts(runtime) == []


def test_an_agent_leg_never_heard_of_is_rung_again(runtime, make_queue, make_agent, clock) -> None:
    _promise, attempt, agent = _stuck_attempt(runtime, make_queue, make_agent, clock, state=AttemptState.INTENDED.value)
    clock.advance(minutes=3)

    assert recover_stale_attempts(runtime) == [attempt.id]

    with runtime.db.session() as session:
        assert session.get(Agent, agent.id).state == AgentState.AVAILABLE.value
        assert session.get(CallbackAttempt, attempt.id).agent_id is None
    [job] = _dials(runtime)
    assert job.func_name == "callbacks.agent_leg.ring_agent" and job.args == (attempt.id, 0)


def test_a_claimed_caller_leg_without_news_is_never_dialled_again(runtime, make_queue, make_agent, clock) -> None:
    promise, attempt, agent = _stuck_attempt(
        runtime, make_queue, make_agent, clock, state=AttemptState.CALLER_RINGING.value, result=CALLER_CLAIM
    )
    clock.advance(minutes=3)

    assert recover_stale_attempts(runtime) == [attempt.id]

    with runtime.db.session() as session:
        stored = session.get(CallbackAttempt, attempt.id)
        assert (stored.state, stored.result, stored.caller_call_sid) == ("failed", "caller leg lost", None)
        kept = session.get(CallbackPromise, promise.id)
        assert kept.state == PromiseState.BOOKED.value and kept.next_attempt_at == clock.now()
        assert session.get(Agent, agent.id).state == AgentState.AVAILABLE.value
        found = promise_timeline(session, promise.id)
        assert found is not None
        timeline, attempts = found
        assert attempts == [(1, "failed", "caller leg lost")]
        assert timeline.attempts == 1 and timeline.lateness is not None
    # The next attempt (a new number, so never a second call for attempt 1) is on schedule.
    registry = ScheduledJobRegistry(queue=queue(runtime.redis, DIAL_QUEUE))
    assert registry.get_job_ids() == [scheduling.job_id_for(promise.id, 2)]
    assert _dials(runtime) == []


def test_a_promise_cancelled_after_the_agent_accepted_is_not_dialled(runtime, make_queue, make_agent, clock) -> None:
    promise, attempt, agent = _stuck_attempt(
        runtime, make_queue, make_agent, clock, state=AttemptState.CALLER_RINGING.value
    )
    with runtime.db.session() as session:
        session.get(CallbackPromise, promise.id).state = PromiseState.CANCELLED.value

    assert dial_caller(runtime, attempt.id) == "promise is cancelled"

    with runtime.db.session() as session:
        stored = session.get(CallbackAttempt, attempt.id)
        assert (stored.state, stored.caller_call_sid) == ("failed", None)
        assert session.get(Agent, agent.id).state == AgentState.AVAILABLE.value


class _RefusingTelephony:
    """The Telephony port answering every new call with one error (what a timeout or a 429 looks like)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def place_call(self, call: object) -> object:
        raise self.error


def test_a_caller_leg_with_unknown_outcome_is_never_retried_for_the_same_attempt(
    runtime, make_queue, make_agent, clock
) -> None:
    from telephony.port import RetryableTelephonyError

    _promise, attempt, _agent = _stuck_attempt(
        runtime, make_queue, make_agent, clock, state=AttemptState.CALLER_RINGING.value
    )
    runtime._telephony = _RefusingTelephony(RetryableTelephonyError("network error talking to Twilio: Timeout"))

    assert dial_caller(runtime, attempt.id) == "caller leg outcome unknown"

    with runtime.db.session() as session:
        assert session.get(CallbackAttempt, attempt.id).result == CALLER_CLAIM  # claimed: nobody dials again
    assert dial_caller(runtime, attempt.id) == "already dialled or no longer needed"
    assert ScheduledJobRegistry(queue=queue(runtime.redis, DIAL_QUEUE)).get_job_ids() == []


def test_a_caller_leg_refused_with_429_is_retried_after_a_backoff(runtime, make_queue, make_agent, clock) -> None:
    from telephony.port import RetryableTelephonyError

    _promise, attempt, _agent = _stuck_attempt(
        runtime, make_queue, make_agent, clock, state=AttemptState.CALLER_RINGING.value
    )
    runtime._telephony = _RefusingTelephony(RetryableTelephonyError("Twilio 429 20429", code=20429, status=429))

    assert dial_caller(runtime, attempt.id) == "network refused the caller leg"

    with runtime.db.session() as session:
        assert session.get(CallbackAttempt, attempt.id).result is None  # free for the retry to claim
    registry = ScheduledJobRegistry(queue=queue(runtime.redis, DIAL_QUEUE))
    assert registry.get_job_ids() == [f"attempt-{attempt.id}-caller-1"]
    assert runtime.redis.zscore(registry.key, f"attempt-{attempt.id}-caller-1") == int(
        (clock.now() + timedelta(seconds=2)).timestamp()
    )


def _dials(runtime: Runtime) -> list[Job]:
    """The dial queue's jobs but the offers to freed agents (recovery frees the stuck attempt's agent)."""
    return [
        job
        for job in queue(runtime.redis, DIAL_QUEUE).jobs
        if job.func_name != "routing.distribution.offer_freed_agent"
    ]
