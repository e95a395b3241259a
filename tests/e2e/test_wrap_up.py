"""Wrap-up ends: when the agent records the outcome, or after TERUGBEL_WRAP_UP_SECONDS, inbound and callbacks alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from routing.models import Agent, Contact, QueueEntry
from routing.wrap_up import end_expired_wrap_ups, wrap_up_job_id
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.redis_conn import DEFAULT_QUEUE, queue
from terugbel.runtime import Runtime

SANNE = "+31611110001"


@pytest.fixture
def facturen(make_queue: Any, make_intent: Any) -> Any:
    queue = make_queue("facturen", default_handle_seconds=120)
    make_intent("factuur", queue, key="1", label_nl="facturen", nl=["factuur klopt niet"])
    return queue


def state_of(runtime: Runtime, agent_id: int) -> str:
    with runtime.db.session() as session:
        return session.get(Agent, agent_id).state


def talk(sim: Simulator, number: str) -> str:
    call = sim.place_inbound_call(number, script=["mijn factuur klopt niet"], max_seconds=600)
    sim.run_until_idle()
    return call.call_sid


def test_wrap_up_ends_by_itself_after_the_setting_and_the_agent_takes_the_next_caller(
    sim: Simulator, runtime: Runtime, clock: ManualClock, make_agent: Any, facturen: Any
) -> None:
    sanne = make_agent("Sanne", SANNE, ("facturen",))
    sim.add_agent(SANNE)
    talk(sim, "+31687650001")
    assert state_of(runtime, sanne.id) == "wrap_up"
    with runtime.db.session() as session:
        ended_at = session.get_one(Agent, sanne.id).state_changed_at
    assert ended_at is not None
    scheduled = ScheduledJobRegistry(queue=queue(runtime.redis, DEFAULT_QUEUE))
    expires = ended_at + timedelta(seconds=60)
    assert expires <= scheduled.get_scheduled_time(wrap_up_job_id(sanne.id)) < expires + timedelta(seconds=1)

    # A second caller waits: Sanne is still writing down the first call.
    waiting = sim.place_inbound_call("+31687650002", script=["mijn factuur klopt niet"], wait=False, max_seconds=600)
    sim.run_for(30)
    assert clock.now() < expires and end_expired_wrap_ups(runtime) == []
    with runtime.db.session() as session:
        entry_state = session.scalars(select(QueueEntry.state).where(QueueEntry.call_sid == waiting.call_sid)).one()
    assert entry_state == "waiting"

    sim.run_for((expires - clock.now()).total_seconds())
    assert end_expired_wrap_ups(runtime) == [sanne.id]
    sim.run_until_idle()
    with runtime.db.session() as session:
        second = session.scalars(select(Contact).where(Contact.call_sid == waiting.call_sid)).one()
    assert second.agent_id == sanne.id and second.outcome == "agent"
    assert end_expired_wrap_ups(runtime) == []  # once


def test_recording_the_outcome_ends_wrap_up_at_once(
    sim: Simulator, runtime: Runtime, client: Any, api_token: Any, make_agent: Any, facturen: Any
) -> None:
    sanne = make_agent("Sanne", SANNE, ("facturen",))
    sim.add_agent(SANNE)
    call_sid = talk(sim, "+31687650001")
    with runtime.db.session() as session:
        contact_id = session.scalars(select(Contact.id).where(Contact.call_sid == call_sid)).one()
    assert state_of(runtime, sanne.id) == "wrap_up"
    recorded = client.post(
        f"/api/me/contacts/{contact_id}/outcome",
        json={"resolved": True, "note": ""},
        headers=api_token("agent", agent_id=sanne.id),
    )
    assert recorded.status_code == 200, recorded.json
    assert state_of(runtime, sanne.id) == "available"


def test_a_callback_leaves_its_agent_in_wrap_up_until_it_ends(world: Any, technisch: Any, make_agent: Any) -> None:
    from tests.e2e.test_callback_stories import AHMED, JAN, book

    ahmed = make_agent("Ahmed", AHMED, ("technisch",))
    promise = book(world, technisch, JAN, problem="mijn modem knippert rood")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN)
    world.run_until(promise.planned_dial_at + timedelta(minutes=2))  # the call is over, wrap-up is not

    assert world.promise(promise.id).state == "completed"
    assert state_of(world.runtime, ahmed.id) == "wrap_up"
    with world.runtime.db.session() as session:
        ended_at = session.get(Agent, ahmed.id).state_changed_at
    world.run_until(ended_at + timedelta(seconds=61))
    assert state_of(world.runtime, ahmed.id) == "available"
