"""Wrap-up: the moments after a conversation in which the agent notes how it went, and their end.

A conversation, inbound or a callback, leaves its agent in wrap-up. Wrap-up ends when the agent
records the outcome, or after TERUGBEL_WRAP_UP_SECONDS (default 60), so nobody stays in it for
good and callers are not left waiting for agents who forgot a button. A job scheduled for the
moment it expires ends it on time; the reconciler's sweep ends any whose job Redis lost. Either
way the agent is then offered the best waiting caller.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.agents import move_agent
from routing.distribution import offer_after_commit
from routing.models import Agent, AgentState
from terugbel.redis_conn import DEFAULT_QUEUE, queue
from terugbel.runtime import current_runtime
from terugbel.unit_of_work import after_commit, unit_of_work

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

_IN_CONVERSATION = (AgentState.RESERVED, AgentState.ON_CALL)


def wrap_up_job_id(agent_id: int) -> str:
    """One pending end per agent: a later wrap-up's job replaces an earlier one's."""
    return f"wrap-up-{agent_id}"


def start_wrap_up(session: Session, agent_id: int | None, now: datetime, *, outcome_recorded: bool = False) -> bool:
    """The agent's conversation is over: wrap-up, ended on time by a job after commit.

    An agent who recorded the outcome during the call has nothing left to write: available at once.
    """
    if agent_id is None:
        return False
    if outcome_recorded:
        if move_agent(session, agent_id, _IN_CONVERSATION, AgentState.AVAILABLE, now):
            offer_after_commit(session, agent_id)
        return False
    if not move_agent(session, agent_id, _IN_CONVERSATION, AgentState.WRAP_UP, now):
        return False

    def schedule_the_end(runtime: Runtime) -> None:
        at = _next_whole_second(now + timedelta(seconds=runtime.settings.wrap_up_seconds))
        queue(runtime.redis, DEFAULT_QUEUE).enqueue_at(at, end_expired_wrap_ups_job, job_id=wrap_up_job_id(agent_id))

    after_commit(session).add(schedule_the_end, key=("wrap-up", agent_id))
    return True


def _next_whole_second(moment: datetime) -> datetime:
    """RQ keeps scheduled times in whole seconds, rounded down: a job must not run before its moment."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def end_wrap_up(session: Session, agent_id: int, now: datetime) -> bool:
    """Available again if the agent was wrapping up; the best waiting caller is offered after commit."""
    if not move_agent(session, agent_id, AgentState.WRAP_UP, AgentState.AVAILABLE, now):
        return False
    offer_after_commit(session, agent_id)
    return True


def end_expired_wrap_ups(runtime: Runtime) -> list[int]:
    """End every wrap-up older than the setting, then offer each agent a waiting caller; return their ids."""
    now = runtime.clock.now()
    expired_since = now - timedelta(seconds=runtime.settings.wrap_up_seconds)
    with unit_of_work(runtime) as session:
        candidates = session.scalars(
            select(Agent.id)
            .where(Agent.state == AgentState.WRAP_UP.value, Agent.state_changed_at <= expired_since)
            .order_by(Agent.state_changed_at, Agent.id)
        ).all()
        # Each move is conditional: an agent who recorded the outcome meanwhile is left alone.
        return [agent_id for agent_id in candidates if end_wrap_up(session, agent_id, now)]


def end_expired_wrap_ups_job() -> list[int]:
    """RQ job: end the wrap-ups that have expired (scheduled per wrap-up, and run by the reconciler)."""
    return end_expired_wrap_ups(current_runtime())
