"""An agent's state: the one module that writes `Agent.state`.

Agents choose available or away themselves; supervisors and the API may set any state but
`reserved`. The other moves belong to the hand-out of calls: distribution (a waiting caller) and the
callback dialler reserve an available agent, put them on the call when they answer, and let them go
again. Each of those is a conditional UPDATE that takes effect only while the agent is still in the
state it was seen in, so two processes racing for one agent never both win.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from routing.models import Agent, AgentState, Language, QueueEntry, QueueEntryState
from terugbel.clock import ensure_utc
from terugbel.db import rows_changed
from terugbel.validation import ChangeRefused, NotFound

# States an agent may pick by hand; the others (reserved, on a call) belong to the hand-out of calls.
AGENT_CHOSEN_STATES = (AgentState.AVAILABLE.value, AgentState.AWAY.value)
DEFAULT_AGENT_LANGUAGE = Language.NL.value  # an agent row's own default
_BUSY = (AgentState.RESERVED.value, AgentState.ON_CALL.value)
_CHANGE_TRIES = 5  # reads of an agent whose state others keep changing before the change is refused


class UnknownAgent(LookupError):
    """No agent with that id."""


def choose_agent_state(session: Session, *, agent_id: int, state: str, now: datetime) -> Agent:
    """Set an agent available or away at their own request; a call in progress keeps its state."""
    if state not in AGENT_CHOSEN_STATES:
        raise ChangeRefused("state", "must be available or away")
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(agent_id)
    if agent.state in _BUSY:
        raise ChangeRefused("state", "you are on a call; change your state after it")
    return change_agent_state(session, agent_id, state, now)


def change_agent_state(session: Session, agent_id: int, state: AgentState | str, now: datetime) -> Agent:
    """Set an agent's state (from the console or the API); `reserved` is only set by the hand-out.

    The move is conditional on the state read, like every other move of an agent: a change that
    raced another one reads the agent again and decides anew. An agent being rung for a caller who
    is made available stays reserved for that caller: available they already are, and freeing the
    caller would only reserve them again and ring the agent a second time. Any other change of a
    reserved agent frees the caller for someone else.
    """
    target = AgentState(state)
    if target == AgentState.RESERVED:
        raise ValueError("reserved is set by distribution, not by hand")
    for _ in range(_CHANGE_TRIES):
        agent = session.get(Agent, agent_id, populate_existing=True)
        if agent is None:
            raise UnknownAgent(f"no agent {agent_id}")
        seen = AgentState(agent.state)
        if seen == target or (seen == AgentState.RESERVED and target == AgentState.AVAILABLE):
            return agent
        if move_agent(session, agent_id, seen, target, now):
            if seen == AgentState.RESERVED:
                _free_reserved_callers(session, agent_id)
            session.refresh(agent)
            return agent
    raise ChangeRefused("state", "the agent's state kept changing meanwhile; try again")


def _free_reserved_callers(session: Session, agent_id: int) -> None:
    """Leaving a reservation by hand: the caller held for this agent waits for someone else."""
    rows_changed(
        session,
        update(QueueEntry)
        .where(QueueEntry.reserved_agent_id == agent_id, QueueEntry.state == QueueEntryState.RESERVED.value)
        .values(state=QueueEntryState.WAITING.value, reserved_agent_id=None)
        .execution_options(synchronize_session=False),
    )


def move_agent(
    session: Session, agent_id: int, expected: AgentState | Collection[AgentState], target: AgentState, now: datetime
) -> bool:
    """Move the agent to `target` if they are still in `expected` (one state or several); say whether they were."""
    if isinstance(expected, AgentState):
        seen = Agent.state == expected.value
    else:
        seen = Agent.state.in_([state.value for state in expected])
    changed = rows_changed(
        session,
        update(Agent)
        .where(Agent.id == agent_id, seen)
        .values(state=target.value, state_changed_at=ensure_utc(now))
        .execution_options(synchronize_session=False),
    )
    return bool(changed)


def reserve_available_agent(session: Session, agent_id: int, now: datetime) -> bool:
    """Reserve the agent for a call if they are still available; False when another process was first."""
    return move_agent(session, agent_id, AgentState.AVAILABLE, AgentState.RESERVED, now)


def agent_on_call(session: Session, agent_id: int | None, now: datetime) -> bool:
    """The reserved agent answered: they are on the call now."""
    if agent_id is None:
        return False
    return move_agent(session, agent_id, AgentState.RESERVED, AgentState.ON_CALL, now)


def release_agent(session: Session, agent_id: int | None, now: datetime) -> bool:
    """A callback's agent is done with it (or never got it): reserved or on the call, they are available again."""
    if agent_id is None:
        return False
    return move_agent(session, agent_id, (AgentState.RESERVED, AgentState.ON_CALL), AgentState.AVAILABLE, now)


def agent_language(session: Session, agent_id: int | None, default: str = DEFAULT_AGENT_LANGUAGE) -> str:
    """The language an agent hears their whispers and prompts in; `default` when there is no such agent."""
    agent = session.get(Agent, agent_id) if agent_id is not None else None
    return agent.language if agent is not None else default
