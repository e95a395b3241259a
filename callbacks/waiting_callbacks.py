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
from itertools import islice
from typing import TYPE_CHECKING

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from callbacks.agent_leg import BEING_DIALLED, start_attempt
from callbacks.attempts import DEFAULT_POLICY, DialPolicy, last_dial_start
from callbacks.models import AttemptState, CallbackAttempt, CallbackPromise, PromiseState
from routing.models import Agent, AgentState, Queue

if TYPE_CHECKING:
    from terugbel.runtime import Runtime


CANDIDATES_PER_OFFER = 5  # callbacks an agent freed tries in turn while others are starting the first


def waiting_callbacks_for(
    session: Session, agent: Agent, now: datetime, policy: DialPolicy = DEFAULT_POLICY, limit: int = 1
) -> list[CallbackPromise]:
    """The booked callbacks of the agent's queues, window open, that wait for an agent (above), most urgent first."""
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
    in_time = (p for p in candidates if now <= last_dial_start(p.window_start, p.window_end, policy))
    return list(islice(in_time, limit))


def callback_waits_for(session: Session, agent_id: int, now: datetime) -> bool:
    """Does a callback wait for this agent? Then the offer made when they became free dials it, and
    a caller in the queue who finds them free in the meantime leaves them to it."""
    agent = session.get(Agent, agent_id)
    return agent is not None and bool(waiting_callbacks_for(session, agent, now))


def serve_waiting_callback(runtime: Runtime, agent_id: int) -> bool:
    """The agent is free: dial a callback that waits for an agent now; True if its attempt rings one.

    The attempt reserves an agent as every attempt does (the promise's preferred one first), which
    may be another free agent; the caller of this then offers whoever is still free an inbound call.
    A callback another process is starting already is left to it, and the next one tried.
    """
    now = runtime.clock.now()
    with runtime.db.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None or not agent.active or agent.state != AgentState.AVAILABLE.value:
            return False
        candidates = waiting_callbacks_for(session, agent, now, limit=CANDIDATES_PER_OFFER)
        waiting = [(promise.id, promise.attempts + 1) for promise in candidates]
    for promise_id, attempt in waiting:
        outcome = start_attempt(runtime, promise_id, attempt, brought_forward=True)
        if outcome != BEING_DIALLED:
            return outcome == "agent ringing"
    return False
