"""Re-planning: the one service every change that alters callback capacity calls.

A queue's settings (callback share, slot length, handle time), its opening hours and closed days,
shifts, slot overrides and an agent leaving all change what the coming slots can hold. Each such
change, in the unit of work that makes it, calls `replan_queue` or `replan_for_agent`; promises
that no longer fit are moved by us to the nearest slot with room and the caller is texted the new
window at once (callbacks/rebalance.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.offers import WIDE_HORIZON
from callbacks.rebalance import MovedPromise, recompute_capacity
from routing.models import Agent, Queue

# As far ahead as any offer reaches: no promise can be booked beyond it.
REPLAN_HORIZON = WIDE_HORIZON


def replan_queue(session: Session, queue_id: int, *, now: datetime, cause: str) -> list[MovedPromise]:
    """Recompute the queue's coming slots from its settings and staffing; move what no longer fits."""
    return recompute_capacity(session, queue_id, now, now + REPLAN_HORIZON, now)


def replan_for_agent(session: Session, agent_id: int, *, now: datetime, cause: str) -> list[MovedPromise]:
    """Re-plan every queue the agent serves (their shifts, skills or being active changed)."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        return []
    moved: list[MovedPromise] = []
    for queue_id in session.scalars(select(Queue.id).where(Queue.skill.in_(agent.skills or [])).order_by(Queue.id)):
        moved.extend(replan_queue(session, queue_id, now=now, cause=cause))
    return moved
