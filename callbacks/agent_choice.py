"""Which agent takes a callback: one of the promise's queue, on shift and available, the preferred first.

The reservation itself is routing's (routing/agents.py, the only writer of an agent's state): a
conditional update from available to reserved, so two jobs never take one agent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callbacks.models import CallbackPromise
from routing.agents import reserve_available_agent
from routing.models import Agent, AgentState, Queue, Shift


def reserve_agent(session: Session, promise: CallbackPromise, exclude: list[int], now: datetime) -> Agent | None:
    """Reserve an available agent of the promise's queue on shift now, the preferred one first."""
    queue_row = session.get(Queue, promise.queue_id)
    if queue_row is None:
        return None
    on_shift = select(Shift.agent_id).where(Shift.starts_at <= now, Shift.ends_at > now)
    rows = session.scalars(
        select(Agent)
        .where(Agent.active.is_(True), Agent.state == AgentState.AVAILABLE.value, Agent.id.in_(on_shift))
        .order_by(func.coalesce(Agent.state_changed_at, now), Agent.id)
    ).all()
    candidates = [agent for agent in rows if queue_row.skill in (agent.skills or []) and agent.id not in exclude]
    candidates.sort(key=lambda agent: agent.id != promise.preferred_agent_id)  # stable: preferred first
    for agent in candidates:
        if reserve_available_agent(session, agent.id, now):
            return agent
    return None
