"""The reconciler's forecast over the coming day: what it reads once a pass."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from callbacks import forecast as forecast_module
from callbacks.forecast import forecast
from callbacks.offers import ensure_slots
from routing.models import Agent, AgentState
from terugbel.clock import ManualClock
from terugbel.db import Database


def test_each_queues_handle_time_is_measured_once_a_pass_not_once_a_slot(
    db: Database,
    make_queue: Callable[..., Any],
    make_agent: Callable[..., Any],
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = clock.now()
    queues = [make_queue("technisch"), make_queue("facturen")]
    agent = make_agent("Ahmed", "+31611110001", ("technisch", "facturen"))
    with db.session() as session:
        for queue in queues:
            assert len(ensure_slots(session, queue.id, now, now + timedelta(hours=8), now)) > 20
        session.get(Agent, agent.id).state = AgentState.AWAY.value  # away on shift: every slot is forecast
    measured: list[int] = []
    measure = forecast_module.handle_seconds

    def counted(session: Any, queue: Any) -> int:
        measured.append(queue.id)
        return measure(session, queue)

    monkeypatch.setattr(forecast_module, "handle_seconds", counted)
    with db.session() as session:
        forecast(session, now, timedelta(minutes=20))
    assert sorted(measured) == sorted(queue.id for queue in queues)
