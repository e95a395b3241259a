"""The forecast: promises the agents logged in will not reach are moved, and the callers told early.

A slot's capacity follows the shifts (callbacks/replanning.py). Shifts say who should be there; the
forecast, part of every reconcile pass, looks at who is: for each slot starting within the forecast
horizon (TERUGBEL_FORECAST_MINUTES) or under way, `reachable_places` counts the callbacks the agents
with the queue's skill can still take in it. An agent whose shift has begun but who is away (not
logged in, on a break) gives nothing; one whose shift has not begun yet counts as planned. The open
promises of the slot beyond that number, the latest booked first, are moved by us to the nearest
slot with room (callbacks/rebalance.py), and each caller is texted the new window at once: with the
default horizon at least 10 minutes before their window starts, and in every case before it ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.capacity import ShiftSpan
from callbacks.models import OPEN_PROMISE_STATES, CallbackPromise, CallbackSlot, PromiseState
from callbacks.offers import handle_seconds, holders_of, queue_of, shifts_serving, staffed_capacity
from callbacks.rebalance import MovedPromise, move_by_us
from routing.models import Agent, AgentState, Queue

# Why the forecast moved a promise: its reason on the board and in its timeline (console/texts.py).
FORECAST_CAUSE = "agents away: cannot be reached in its window"

_OPEN = frozenset(state.value for state in OPEN_PROMISE_STATES)


def reachable_places(
    slot: CallbackSlot, queue: Queue, shifts: Sequence[ShiftSpan], away: frozenset[int], now: datetime, handle: int
) -> int:
    """How many open promises of the slot the agents can still reach, from now to its end.

    The shifts of the agents with the queue's skill count, less those of agents whose shift has
    begun but who are away now; the promises already in the slot are what they are committed to.
    Nobody away: the slot's own capacity (a supervisor's override included) stands.
    """
    present = [s for s in shifts if not (s.agent_id in away and s.starts_at <= now)]
    if len(present) == len(shifts):
        return slot.capacity
    start = max(slot.starts_at, now)
    return min(slot.capacity, staffed_capacity(queue, present, start, slot.ends_at, handle))


# How far ahead a moved promise must not land in a slot the agents away now leave short.
DESTINATION_HORIZON = timedelta(days=1)


def forecast(session: Session, now: datetime, horizon: timedelta) -> list[MovedPromise]:
    """Move the promises in slots starting before now + horizon that the agents there will not reach.

    A moved promise never lands in a slot of the coming day that the agents away now leave short:
    an agent away on their shift is taken to stay away until it ends, so the caller is told one new
    time, not a new one every reconcile.
    """
    slots = list(
        session.scalars(
            select(CallbackSlot)
            .where(CallbackSlot.starts_at < now + DESTINATION_HORIZON, CallbackSlot.ends_at > now)
            .order_by(CallbackSlot.starts_at, CallbackSlot.id)
        )
    )
    away = frozenset(session.scalars(select(Agent.id).where(Agent.state == AgentState.AWAY.value)))
    shifts: dict[int, list[ShiftSpan]] = {}
    handle: dict[int, int] = {}  # per queue: measured once a pass, not once a slot of the coming day
    room: dict[int, int] = {}  # per slot: the promises it can still take under the forecast (< 0: short)
    victims: list[CallbackPromise] = []
    for slot in slots:
        queue = queue_of(session, slot.queue_id)
        if queue.id not in shifts:
            shifts[queue.id] = shifts_serving(session, queue, now, now + DESTINATION_HORIZON + horizon)
            handle[queue.id] = handle_seconds(session, queue)
        reachable = reachable_places(slot, queue, shifts[queue.id], away, now, handle[queue.id])
        if slot.starts_at >= now + horizon:
            room[slot.id] = reachable - slot.booked
            continue
        holders = [p for p in holders_of(session, slot.id) if p.state in _OPEN]  # the latest booked first
        room[slot.id] = reachable - len(holders)
        victims.extend([p for p in holders if p.state == PromiseState.BOOKED.value][: max(-room[slot.id], 0)])
    moved = []
    for promise in victims:
        # Never into a slot the forecast finds full: the caller is told one new time, not two.
        result = move_by_us(session, promise, now, FORECAST_CAUSE, avoid=[i for i, left in room.items() if left <= 0])
        new = session.get(CallbackPromise, result.new_id) if result.new_id is not None else None
        if new is not None and new.slot_id in room:
            room[new.slot_id] -= 1
        moved.append(result)
    return moved
