"""Which agent takes a callback: an available one of the promise's queue, the preferred first.

Available is the agent's own word that they are at their desk, and it is what routes the callers
in the queue to them too. Of those, the agents on shift go first; one still available after their
shift (or whose shift a supervisor removed) takes the callback rather than leave it unkept while
they take the queue's next inbound caller.

When agents are short, priority decides: a promise leaves the free agents to the promises of its
queue with a higher priority (VIP, repeat) that are due now and can still be dialled, and
looks again shortly (its attempt ends "no agent free"), so the higher one gets the next free agent.

The reservation itself is routing's (routing/agents.py, the only writer of an agent's state): a
conditional update from available to reserved, so two jobs never take one agent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callbacks.attempts import last_dial_start
from callbacks.models import CallbackPromise, PromiseState
from routing.agents import reserve_available_agent
from routing.models import Agent, AgentState, Queue, Shift


def reserve_agent(session: Session, promise: CallbackPromise, exclude: list[int], now: datetime) -> Agent | None:
    """Reserve an available agent of the promise's queue: the preferred one, then those on shift now."""
    queue_row = session.get(Queue, promise.queue_id)
    if queue_row is None:
        return None
    on_shift = set(session.scalars(select(Shift.agent_id).where(Shift.starts_at <= now, Shift.ends_at > now)))
    rows = session.scalars(
        select(Agent)
        .where(Agent.active.is_(True), Agent.state == AgentState.AVAILABLE.value)
        .order_by(func.coalesce(Agent.state_changed_at, now), Agent.id)
    ).all()
    candidates = [agent for agent in rows if queue_row.skill in (agent.skills or []) and agent.id not in exclude]
    # Stable: within each group the longest idle first.
    candidates.sort(key=lambda agent: (agent.id != promise.preferred_agent_id, agent.id not in on_shift))
    if candidates and _waiting_before(session, promise, now) >= len(candidates):
        return None  # every free agent is due to a caller of higher priority
    for agent in candidates:
        if reserve_available_agent(session, agent.id, now):
            return agent
    return None


def _waiting_before(session: Session, promise: CallbackPromise, now: datetime) -> int:
    """Booked promises of the same queue with a higher priority, due now and still to be dialled.

    One past the last moment it may be dialled is about to be given up, not dialled: it holds no
    agent back.
    """
    due_at = func.coalesce(CallbackPromise.next_attempt_at, CallbackPromise.planned_dial_at)
    windows = session.execute(
        select(CallbackPromise.window_start, CallbackPromise.window_end).where(
            CallbackPromise.queue_id == promise.queue_id,
            CallbackPromise.id != promise.id,
            CallbackPromise.state == PromiseState.BOOKED.value,
            CallbackPromise.priority > promise.priority,
            due_at <= now,
            CallbackPromise.window_end > now,
        )
    ).all()
    return sum(1 for start, end in windows if now <= last_dial_start(start, end))
