"""A callback that found no agent free goes first when one frees up, before a caller waiting in the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from routing.agents import change_agent_state
from routing.distribution import agent_became_available
from routing.models import QueueEntry
from telephony.simulator import Reply
from tests.e2e.callback_driver import CallbackWorld, book

AHMED = "+31611110001"
JAN = "+31612345678"  # booked a callback
PIETER = "+31687654321"  # calls in while Ahmed is busy


def test_a_freed_agent_dials_the_waiting_callback_before_the_caller_in_the_queue(
    world: CallbackWorld, technisch: Any, make_intent: Any, make_agent: Any
) -> None:
    make_intent("internet", technisch, key="1", label_nl="internet", nl=["internet doet het niet"])
    ahmed = make_agent("Ahmed", AHMED, ("technisch",), state="on_call")  # on another call
    promise = book(world, technisch, JAN, problem="modem knippert")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN)

    world.run_until(promise.planned_dial_at + timedelta(seconds=5))
    assert [a.state for a in world.attempts(promise.id)] == ["no_agent"]  # Ahmed was busy: it looks again soon

    pieter_waits: list[Reply | str] = [
        "mijn internet doet het niet",
        Reply(press="5", when_heard="aan de lijn te wachten"),
    ]
    waiting = world.sim.place_inbound_call(PIETER, script=pieter_waits, wait=False, max_seconds=900)

    def in_the_queue() -> QueueEntry | None:
        with world.runtime.db.session() as session:
            return session.scalars(select(QueueEntry).where(QueueEntry.call_sid == waiting.call_sid)).first()

    world.sim.run_until(lambda: in_the_queue() is not None, max_seconds=50)
    entry = in_the_queue()
    assert entry is not None and entry.state == "waiting"
    entry_id = entry.id
    assert world.clock.now() < promise.planned_dial_at + timedelta(seconds=60)  # before the callback looks again

    freed_at = world.clock.now()
    with world.runtime.db.session() as session:
        change_agent_state(session, ahmed.id, "available", freed_at)
    assert agent_became_available(world.runtime, ahmed.id) is None  # no inbound caller offered: the callback took him

    _no_agent, second = world.attempts(promise.id)
    assert (second.agent_id, second.started_at) == (ahmed.id, freed_at)  # at once, not at its next look
    with world.runtime.db.session() as session:
        assert session.get(QueueEntry, entry_id).state == "waiting"  # Pieter gets the next free agent

    world.run_until(promise.window_end)
    assert world.promise(promise.id).state == "completed"


def test_an_agent_freed_by_a_callback_nobody_answered_takes_the_next_waiting_callback_at_once(
    world: CallbackWorld, technisch: Any, make_agent: Any
) -> None:
    from callbacks.scheduling import schedule_promise
    from tests.integration.dispatch_support import add_promise

    ahmed = make_agent("Ahmed", AHMED, ("technisch",))
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN, answers=False)  # Ahmed's first callback rings out
    world.sim.add_callee(PIETER)
    first = book(world, technisch, JAN)
    second = add_promise(
        world.runtime.db, queue_id=technisch.id, number=PIETER, window_start=first.window_start,
        planned_dial_at=first.planned_dial_at + timedelta(seconds=10), booked_at=world.clock.now(),
    )  # fmt: skip
    schedule_promise(world.runtime.redis, second.id, 1, second.planned_dial_at)

    world.run_until(second.window_end)
    rung_out = world.attempts(first.id)[0]
    assert rung_out.agent_id == ahmed.id and rung_out.ended_at is not None
    no_agent, taken = world.attempts(second.id)
    assert no_agent.state == "no_agent"  # Ahmed was ringing Jan
    # Released when Jan's phone rang out, Ahmed was offered the waiting callback in the same moment,
    # not at its next look a minute after the first.
    assert taken.agent_id == ahmed.id and taken.started_at == rung_out.ended_at
    assert taken.started_at < no_agent.started_at + timedelta(minutes=1)
    assert world.promise(second.id).state == "completed"
