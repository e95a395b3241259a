"""The callbacks' writes of an agent's state: reserve for a callback, on the call, free again.

Each is a conditional update (only from the state it expects), so two jobs never take one agent and
a late request never frees an agent twice. These are the only places in callbacks that write
`Agent.state`; routing owns an agent's state and is to offer these transitions itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from callbacks.models import CallbackPromise
from routing.models import Agent, AgentState, Queue, Shift


def reserve_agent(session: Session, promise: CallbackPromise, exclude: list[int], now: datetime) -> Agent | None:
    """Reserve an available agent of the promise's queue on shift now, the preferred one first.

    The reservation is a conditional update (available → reserved), so two jobs never take one agent.
    """
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
        taken = session.execute(
            update(Agent)
            .where(Agent.id == agent.id, Agent.state == AgentState.AVAILABLE.value)
            .values(state=AgentState.RESERVED.value, state_changed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            return agent
    return None


def release_agent(session: Session, agent_id: int | None, now: datetime) -> None:
    """Free an agent reserved for or talking on a callback (nothing for anyone else)."""
    if agent_id is None:
        return
    session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.state.in_([AgentState.RESERVED.value, AgentState.ON_CALL.value]))
        .values(state=AgentState.AVAILABLE.value, state_changed_at=now)
        .execution_options(synchronize_session=False)
    )


def agent_on_call(session: Session, agent_id: int | None, now: datetime) -> None:
    """A reserved agent is now talking to the caller."""
    if agent_id is None:
        return
    session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.state == AgentState.RESERVED.value)
        .values(state=AgentState.ON_CALL.value, state_changed_at=now)
        .execution_options(synchronize_session=False)
    )
