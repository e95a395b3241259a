"""An agent's own state, as the console lets them choose it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from routing.distribution import change_agent_state
from routing.models import Agent, AgentState
from terugbel.validation import ChangeRefused, NotFound

# States an agent may pick by hand; the others (reserved, on a call) belong to the dialler.
AGENT_CHOSEN_STATES = (AgentState.AVAILABLE.value, AgentState.AWAY.value)


def set_agent_state(session: Session, *, agent_id: int, state: str, now: datetime) -> Agent:
    """Set an agent available or away; a call in progress keeps its state."""
    if state not in AGENT_CHOSEN_STATES:
        raise ChangeRefused("state", "must be available or away")
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(agent_id)
    if agent.state in (AgentState.RESERVED.value, AgentState.ON_CALL.value):
        raise ChangeRefused("state", "you are on a call; change your state after it")
    return change_agent_state(session, agent_id, state, now)
