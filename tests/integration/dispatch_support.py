"""Promises for the dispatch tests: rows as booking leaves them, without the slot machinery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from callbacks.models import CallbackAttempt, CallbackPromise, PromiseState
from callbacks.promise import start_promise
from routing.models import Agent, AgentState
from terugbel.clock import ManualClock
from terugbel.db import Database


def add_promise(
    db: Database,
    *,
    queue_id: int,
    number: str,
    window_start: datetime,
    booked_at: datetime,
    planned_dial_at: datetime | None = None,
    minutes: int = 15,
    **fields: Any,
) -> CallbackPromise:
    """A booked promise for `number` in the window starting at `window_start`."""
    state = fields.pop("state", None)
    with db.session() as session:
        promise = CallbackPromise(
            queue_id=queue_id,
            number=number,
            language=fields.pop("language", "nl"),
            timezone=fields.pop("timezone", "Europe/Amsterdam"),
            window_start=window_start,
            window_end=window_start + timedelta(minutes=minutes),
            planned_dial_at=planned_dial_at or window_start,
            booked_at=booked_at,
            **fields,
        )
        start_promise(promise, booked_at, "booked in a test")
        if state is not None:
            promise.state = state  # a promise caught mid-way (dialling, connected…)
        session.add(promise)
    return promise


def add_attempt_in_flight(
    db: Database, make_queue: Any, make_agent: Any, clock: ManualClock, **fields: Any
) -> tuple[CallbackPromise, CallbackAttempt, Agent]:
    """A promise being dialled in its window, its first attempt (with `fields`) and the reserved agent."""
    agent = make_agent("Ahmed", "+31611110001", ("technisch",), state=AgentState.RESERVED.value)
    promise = add_promise(
        db,
        queue_id=make_queue().id,
        number="+31612345678",
        window_start=clock.now() - timedelta(minutes=1),
        booked_at=clock.now() - timedelta(hours=1),
        state=PromiseState.DIALLING.value,
        attempts=1,
        first_dial_at=clock.now(),
    )
    with db.session() as session:
        attempt = CallbackAttempt(
            promise_id=promise.id,
            number=1,
            started_at=clock.now(),
            stage_at=clock.now(),
            agent_id=agent.id,
            agents_tried=[],
            **fields,
        )
        session.add(attempt)
    return promise, attempt, agent
