"""The contact center at one moment: queues open or closed, callers waiting, agents on shift.

What a routing snapshot and the queue board read: the kept configuration and one statement for the
live load, plus each queue's handle time (`routing.handle_time`) for its wait estimate
(`routing.wait`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, bindparam, func, null, select, union_all
from sqlalchemy.orm import Session

from routing.config import center_config
from routing.handle_time import handle_seconds_by_queue
from routing.models import Agent, AgentState, QueueEntry, QueueEntryState, Shift
from routing.snapshot import AgentFacts
from routing.wait import estimate_wait_seconds
from terugbel.db import plain_rows

SERVING_STATES = (AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP)
_SERVING_VALUES = frozenset(state.value for state in SERVING_STATES)
_AVAILABLE = AgentState.AVAILABLE.value


@dataclass(frozen=True)
class QueueStatus:
    """A queue as the routing sees it at one moment (also shown by /api/queues)."""

    id: int
    name: str
    label: str
    skill: str
    open: bool
    waiting: int
    available_agents: int
    serving_agents: int
    average_handle_seconds: float
    wait_estimate_seconds: int
    wait_threshold_seconds: int
    overflow_queue: str | None
    timezone: str


def agents_on_shift(session: Session, now: datetime) -> set[int]:
    """Return the ids of the agents with a shift at `now`."""
    return set(session.scalars(select(Shift.agent_id).where(Shift.starts_at <= now, Shift.ends_at > now).distinct()))


@dataclass(frozen=True)
class CenterState:
    """Queues and agents at one moment: what a routing snapshot and the queue board need."""

    queues: list[QueueStatus]
    agents: list[AgentFacts]  # active agents, on shift or not


def queue_statuses(session: Session, now: datetime, *, fresh: bool = False) -> list[QueueStatus]:
    """Every queue at `now`: open or closed, callers waiting, agents on shift, handle time, wait estimate.

    A dry run for another time keeps the live load (callers waiting, agent states) and judges
    hours and shifts at that time. `fresh` measures the handle times now instead of using the ones
    this process measured in the last minute.
    """
    return center_state(session, now, fresh=fresh).queues


def center_state(session: Session, now: datetime, *, fresh: bool = False) -> CenterState:
    """Queues with their hours and load, agents and their shifts: the kept configuration and one query."""
    config = center_config(session)
    waiting: dict[int, int] = {}
    agents: list[AgentFacts] = []
    for agent_id, name, skills, state, on_shift, queue_waiting in plain_rows(session, _LIVE_LOAD, {"now": now}).all():
        if queue_waiting is None:
            agents.append(AgentFacts(agent_id, name, frozenset(skills or ()), state, bool(on_shift)))
        else:
            waiting[agent_id] = queue_waiting  # a queue's row: its id and callers waiting
    # Per skill, once over the agents: how many on shift serve, and how many of them are free.
    serving_by_skill: Counter[str] = Counter()
    available_by_skill: Counter[str] = Counter()
    for agent in agents:
        if agent.on_shift and agent.state in _SERVING_VALUES:
            serving_by_skill.update(agent.skills)
            if agent.state == _AVAILABLE:
                available_by_skill.update(agent.skills)
    names = config.queue_names
    handle_times = handle_seconds_by_queue(session, config.queues, None if fresh else config.token, now)
    statuses = []
    for queue in config.queues:
        serving, available = serving_by_skill[queue.skill], available_by_skill[queue.skill]
        aht = handle_times[queue.id]
        queue_waiting = waiting.get(queue.id, 0)
        statuses.append(
            QueueStatus(
                id=queue.id,
                name=queue.name,
                label=queue.label,
                skill=queue.skill,
                open=queue.is_open(now),
                waiting=queue_waiting,
                available_agents=available,
                serving_agents=serving,
                average_handle_seconds=aht,
                wait_estimate_seconds=estimate_wait_seconds(
                    waiting=queue_waiting,
                    available_agents=available,
                    serving_agents=serving,
                    aht_seconds=aht,
                ),
                wait_threshold_seconds=queue.wait_threshold_seconds,
                overflow_queue=names.get(queue.overflow_queue_id) if queue.overflow_queue_id else None,
                timezone=queue.timezone,
            )
        )
    return CenterState(queues=statuses, agents=agents)


# The live load in one statement: every active agent (with "on shift now"), then a row per queue
# with callers waiting, told apart by the last column (NULL for agents). Built once, so SQLAlchemy
# finds its compiled form in its cache.
_LIVE_LOAD: CompoundSelect[*tuple[Any, ...]] = union_all(
    select(
        Agent.id,
        Agent.name,
        Agent.skills,
        Agent.state,
        select(Shift.id)
        .where(Shift.agent_id == Agent.id, Shift.starts_at <= bindparam("now"), Shift.ends_at > bindparam("now"))
        .exists()
        .label("on_shift"),
        null().label("waiting"),
    ).where(Agent.active.is_(True)),
    select(
        QueueEntry.queue_id,
        null(),
        null(),
        null(),
        null(),
        func.count(QueueEntry.id),
    )
    .where(QueueEntry.state == QueueEntryState.WAITING.value)
    .group_by(QueueEntry.queue_id),
)
