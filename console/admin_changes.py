"""Queue and agent changes with the re-planning they need, in one unit of work (API and console).

routing cannot reach the callbacks layer, so the change (routing.queue_admin, routing.agent_admin)
and the re-planning of the callback capacity it alters (callbacks.replanning) meet here: both in
the same transaction, and the callers texted about a moved callback only once it has committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callbacks.replanning import ReplanCause, replan_queue
from routing.agent_admin import create_agent, queue_ids_for_skills, update_agent
from routing.queue_admin import create_queue, update_queue
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work


def add_queue(runtime: Runtime, values: Mapping[str, Any], actor: str) -> int:
    """Create a queue and plan its callback slots; return its id."""
    now = runtime.clock.now()
    with unit_of_work(runtime) as session:
        change = create_queue(session, values=values, default_timezone=runtime.settings.timezone, actor=actor, now=now)
        replan_queue(session, change.queue.id, now=now, cause=ReplanCause.QUEUE_SETTINGS)
        return change.queue.id


def change_queue(runtime: Runtime, queue_id: int, values: Mapping[str, Any], actor: str) -> None:
    """Change a queue; re-plan it when its callback capacity may have changed."""
    now = runtime.clock.now()
    with unit_of_work(runtime) as session:
        change = update_queue(session, queue_id=queue_id, values=values, actor=actor, now=now)
        if change.replan:
            replan_queue(session, queue_id, now=now, cause=ReplanCause.QUEUE_SETTINGS)


def add_agent(runtime: Runtime, values: Mapping[str, Any], actor: str) -> int:
    """Create an agent (no shifts yet, so no capacity changes); return their id."""
    with unit_of_work(runtime) as session:
        change = create_agent(
            session, values=values, region=runtime.settings.default_region, actor=actor, now=runtime.clock.now()
        )
        return change.agent.id


def change_agent(runtime: Runtime, agent_id: int, values: Mapping[str, Any], actor: str) -> None:
    """Change an agent; re-plan the queues of their old and new skills when skills or being active changed."""
    now = runtime.clock.now()
    with unit_of_work(runtime) as session:
        change = update_agent(
            session, agent_id=agent_id, values=values, region=runtime.settings.default_region, actor=actor, now=now
        )
        cause = ReplanCause.AGENT_QUEUES if change.agent.active else ReplanCause.AGENT_DEACTIVATED
        for queue_id in queue_ids_for_skills(session, change.replan_skills):
            replan_queue(session, queue_id, now=now, cause=cause)
