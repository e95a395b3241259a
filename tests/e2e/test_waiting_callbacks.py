"""A callback that found no agent free goes first when one frees up, before a caller waiting in the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from routing.agents import change_agent_state
from routing.distribution import agent_became_available, caller_enqueued
from routing.models import Agent, QueueEntry
from telephony.simulator import Reply
from tests.e2e.callback_driver import CallbackWorld, book

AHMED = "+31611110001"
JAN = "+31612345678"  # booked a callback
PIETER = "+31687654321"  # calls in while Ahmed is busy


def _pieter_waits_in_the_queue(world: CallbackWorld) -> int:
    """Pieter calls about his internet and chooses to hold: the id of his waiting queue entry."""
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
    return entry.id


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

    entry_id = _pieter_waits_in_the_queue(world)
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
    # Released when Jan's phone rang out, Ahmed was offered the waiting callback by the dial job that
    # release queued (run at the world's next turn of the worker, while the simulator played on for
    # seconds), not at the callback's next look a minute after the first.
    assert taken.agent_id == ahmed.id
    assert rung_out.ended_at <= taken.started_at < rung_out.ended_at + timedelta(seconds=10)
    assert taken.started_at < no_agent.started_at + timedelta(minutes=1)
    assert world.promise(second.id).state == "completed"


def test_a_caller_in_the_queue_leaves_a_freed_agent_to_the_callback_waiting_for_one(
    world: CallbackWorld, technisch: Any, make_intent: Any, make_agent: Any
) -> None:
    make_intent("internet", technisch, key="1", label_nl="internet", nl=["internet doet het niet"])
    ahmed = make_agent("Ahmed", AHMED, ("technisch",), state="on_call")
    promise = book(world, technisch, JAN, problem="modem knippert")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN)
    world.run_until(promise.planned_dial_at + timedelta(seconds=5))
    assert [a.state for a in world.attempts(promise.id)] == ["no_agent"]

    entry_id = _pieter_waits_in_the_queue(world)

    # Ahmed is free, and before the offer made for him runs, Pieter's hold loop looks for an agent.
    with world.runtime.db.session() as session:
        change_agent_state(session, ahmed.id, "available", world.clock.now())
    assert caller_enqueued(world.runtime, entry_id) is None
    with world.runtime.db.session() as session:
        assert session.get(Agent, ahmed.id).state == "available"
        assert session.get(QueueEntry, entry_id).state == "waiting"

    agent_became_available(world.runtime, ahmed.id)
    assert world.attempts(promise.id)[-1].agent_id == ahmed.id  # the callback took him


def test_a_caller_in_the_queue_takes_a_free_agent_no_callback_waits_for(
    world: CallbackWorld, technisch: Any, make_intent: Any, make_agent: Any
) -> None:
    make_intent("internet", technisch, key="1", label_nl="internet", nl=["internet doet het niet"])
    ahmed = make_agent("Ahmed", AHMED, ("technisch",), state="on_call")
    world.sim.add_agent(AHMED)
    entry_id = _pieter_waits_in_the_queue(world)
    with world.runtime.db.session() as session:
        change_agent_state(session, ahmed.id, "available", world.clock.now())
    reservation = caller_enqueued(world.runtime, entry_id)
    assert reservation is not None and reservation.agent_id == ahmed.id


def test_a_freed_agent_dials_a_callback_whose_window_is_open_before_its_planned_moment(
    world: CallbackWorld, technisch: Any, make_agent: Any
) -> None:
    from callbacks.scheduling import schedule_promise
    from tests.integration.dispatch_support import add_promise

    ahmed = make_agent("Ahmed", AHMED, ("technisch",), state="on_call")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN)
    start = world.clock.now() + timedelta(minutes=30)
    promise = add_promise(
        world.runtime.db, queue_id=technisch.id, number=JAN, window_start=start,
        planned_dial_at=start + timedelta(minutes=8), booked_at=world.clock.now(),
    )  # fmt: skip
    schedule_promise(world.runtime.redis, promise.id, 1, promise.planned_dial_at)
    world.run_until(start + timedelta(seconds=30))
    assert world.attempts(promise.id) == []  # the window is open, its planned moment still minutes away

    freed_at = world.clock.now()
    with world.runtime.db.session() as session:
        change_agent_state(session, ahmed.id, "available", freed_at)
    agent_became_available(world.runtime, ahmed.id)
    [early] = world.attempts(promise.id)
    assert (early.agent_id, early.started_at) == (ahmed.id, freed_at)

    world.run_until(promise.window_end)
    assert world.promise(promise.id).state == "completed"
    assert len(world.attempts(promise.id)) == 1  # the job at the planned moment found it dialled already
    assert [c.to for c in world.sim.calls() if c.direction != "inbound"].count(JAN) == 1


def test_a_freed_agent_leaves_a_retry_after_no_answer_to_its_own_moment(
    world: CallbackWorld, technisch: Any, make_agent: Any
) -> None:
    ahmed = make_agent("Ahmed", AHMED, ("technisch",))
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN, answers=False)
    promise = book(world, technisch, JAN)
    world.run_until(promise.planned_dial_at + timedelta(seconds=50))

    [rung_out] = world.attempts(promise.id)
    assert rung_out.state == "no_answer" and rung_out.ended_at is not None
    with world.runtime.db.session() as session:
        assert session.get(Agent, ahmed.id).state == "available"  # freed, and offered the callback: it waits
    retry_at = world.promise(promise.id).next_attempt_at
    assert retry_at is not None and retry_at > world.clock.now()
    agent_became_available(world.runtime, ahmed.id)
    assert len(world.attempts(promise.id)) == 1  # Jan is not rung again straight away
