"""A callback whose window is open goes first when an agent becomes free.

Inbound callers in the queue and booked callbacks draw on the same agents. A callback whose
attempt found nobody free looks again shortly (callbacks/attempts.py), but in a busy hour every
agent who frees up would be handed the next inbound caller at once: the callback would find
nobody again and again, and its promise would be broken while callers who made no promise were
served. So when an agent becomes free, a callback of their queues that waits for one is dialled
first, the highest priority and then the earliest planned; the inbound caller gets the next agent.

A callback waits for an agent once its window is open: when its last attempt found nobody, and
also before its first attempt, while its planned moment later in the window has not come. The
planned moment spreads a slot's callbacks over the window; an agent free now is a surer thing
than one free then, and the time won is what a retry after voicemail or no answer needs to fit.
Retries after a caller was not reached keep their own moment: the caller is not rung again at once.

routing.distribution asks this through `Runtime.serve_waiting_callback` and
`Runtime.callback_waits_for` (wired in terugbel/wiring.py), since routing cannot import callbacks.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from callbacks.agent_leg import start_attempt
from callbacks.attempts import DEFAULT_POLICY, DialPolicy, last_dial_start
from callbacks.models import AttemptState, CallbackAttempt, CallbackPromise, PromiseState
from routing.models import Agent, AgentState, Queue
from terugbel.unit_of_work import unit_of_work

if TYPE_CHECKING:
    from terugbel.runtime import Runtime


def waiting_callback_for(
    session: Session, agent: Agent, now: datetime, policy: DialPolicy = DEFAULT_POLICY
) -> CallbackPromise | None:
    """The booked callback of the agent's queues, window open, that waits for an agent (above), most urgent first."""
    last_attempt_found_nobody = exists().where(
        and_(
            CallbackAttempt.promise_id == CallbackPromise.id,
            CallbackAttempt.number == CallbackPromise.attempts,
            CallbackAttempt.state == AttemptState.NO_AGENT.value,
        )
    )
    candidates = session.scalars(
        select(CallbackPromise)
        .join(Queue, Queue.id == CallbackPromise.queue_id)
        .where(
            CallbackPromise.state == PromiseState.BOOKED.value,
            Queue.skill.in_(agent.skills or []),
            CallbackPromise.window_start <= now,
            CallbackPromise.window_end > now,
            or_(CallbackPromise.attempts == 0, last_attempt_found_nobody),
        )
        .order_by(CallbackPromise.priority.desc(), CallbackPromise.planned_dial_at, CallbackPromise.id)
    )
    for promise in candidates:
        if now <= last_dial_start(promise.window_start, promise.window_end, policy):
            return promise
    return None


def callback_waits_for(session: Session, agent_id: int, now: datetime) -> bool:
    """Does a callback wait for this agent? Then the offer made when they became free dials it, and
    a caller in the queue who finds them free in the meantime leaves them to it."""
    agent = session.get(Agent, agent_id)
    return agent is not None and waiting_callback_for(session, agent, now) is not None


def serve_waiting_callback(runtime: Runtime, agent_id: int) -> bool:
    """The agent is free: dial a callback that waits for an agent now; True if its attempt rings one.

    The attempt reserves an agent as every attempt does (the promise's preferred one first), which
    may be another free agent; the caller of this then offers whoever is still free an inbound call.
    """
    now = runtime.clock.now()
    with unit_of_work(runtime) as session:
        agent = session.get(Agent, agent_id)
        if agent is None or not agent.active or agent.state != AgentState.AVAILABLE.value:
            return False
        promise = waiting_callback_for(session, agent, now)
        if promise is None:
            return False
        # Due now rather than at its planned moment or next look: the attempt below is brought forward.
        promise.next_attempt_at = now
        promise_id, attempt = promise.id, promise.attempts + 1
    outcome = start_attempt(runtime, promise_id, attempt)
    return outcome == "agent ringing"
