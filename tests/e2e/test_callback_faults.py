"""Callbacks that survive the network and the machines: 429s, repeated callbacks and jobs, invalid numbers, a flush."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callbacks import scheduling
from routing.models import Agent, AgentState
from telephony.models import SmsMessage
from tests.e2e.callback_driver import CallbackWorld, book

AHMED = "+31611110001"
SANNE = "+31611110002"
JAN = "+31612345678"








def assert_kept_once(world: CallbackWorld, promise, number: str) -> None:
    kept = world.promise(promise.id)
    assert kept.state == "completed", kept.state
    assert promise.window_start <= kept.first_dial_at <= promise.window_end
    assert len(world.calls_to(number)) == 1


def test_twilio_answering_429_then_201_is_retried_with_backoff_inside_the_window(world, technisch, make_agent) -> None:
    make_agent("Ahmed", AHMED, ("technisch",))
    promise = book(world, technisch, JAN, problem="modem")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN)
    world.sim.faults.rate_limit_next(2)  # the first two tries of the agent leg

    world.run_until(promise.window_end)

    assert_kept_once(world, promise, JAN)
    [agent_call] = world.calls_to(AHMED)
    # Backed off 2 s, then 4 s, before Twilio took it.
    assert agent_call.date_created - promise.planned_dial_at >= timedelta(seconds=6)


def test_a_server_error_on_the_callers_leg_is_retried_and_the_caller_called_once(world, technisch, make_agent) -> None:
    make_agent("Ahmed", AHMED, ("technisch",))
    promise = book(world, technisch, JAN, problem="modem")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN)
    world.clock.set(promise.planned_dial_at)
    world.settle()  # the agent leg is placed, the agent accepts and waits in the conference
    world.sim.faults.fail_next(1, status=503, code=20503)  # the caller's leg: 503 first

    world.run_until(promise.window_end)

    assert_kept_once(world, promise, JAN)


def test_duplicate_status_callbacks_change_nothing_twice(world, technisch, make_agent) -> None:
    ahmed = make_agent("Ahmed", AHMED, ("technisch",))
    promise = book(world, technisch, JAN, problem="modem")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN, busy=True)
    world.sim.status_callback_delivery = "duplicate"

    world.run_until(promise.planned_dial_at + timedelta(minutes=2))
    assert [a.state for a in world.attempts(promise.id)] == ["busy"]  # one busy, not two
    assert world.promise(promise.id).attempts == 1
    world.sim.add_callee(JAN)
    world.run_until(promise.window_end)

    assert [a.state for a in world.attempts(promise.id)] == ["busy", "completed"]
    assert len(world.calls_to(JAN)) == 2 and len(world.calls_to(AHMED)) == 2
    world.run_until(world.clock.now() + timedelta(seconds=60))  # wrap-up over
    with world.runtime.db.session() as session:
        assert session.get(Agent, ahmed.id).state == AgentState.AVAILABLE.value


def test_out_of_order_status_callbacks_still_end_in_the_right_state(world, technisch, make_agent) -> None:
    make_agent("Ahmed", AHMED, ("technisch",))
    promise = book(world, technisch, JAN, problem="modem")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN)
    world.sim.status_callback_delivery = "reversed"

    world.run_until(promise.window_end)

    assert_kept_once(world, promise, JAN)
    [attempt] = world.attempts(promise.id)
    assert attempt.state == "completed"


def test_a_dial_job_that_runs_twice_dials_once(world, technisch, make_agent) -> None:
    make_agent("Ahmed", AHMED, ("technisch",))
    make_agent("Sanne", SANNE, ("technisch",))
    promise = book(world, technisch, JAN, problem="modem", schedule=False)
    world.sim.add_agent(AHMED)
    world.sim.add_agent(SANNE)
    world.sim.add_callee(JAN)
    world.clock.set(promise.planned_dial_at)

    assert scheduling.dial_promise(promise.id, 1) == "agent ringing"
    assert scheduling.dial_promise(promise.id, 1) == "promise is dialling"
    world.run_until(promise.window_end)
    assert scheduling.dial_promise(promise.id, 1) == "promise is completed"

    assert_kept_once(world, promise, JAN)
    assert len(world.calls_to(AHMED)) + len(world.calls_to(SANNE)) == 1


def test_an_invalid_number_fails_the_promise_with_the_reason_and_tries_a_text(world, technisch, make_agent) -> None:
    ahmed = make_agent("Ahmed", AHMED, ("technisch",))
    promise = book(world, technisch, "+3161234", problem="modem")
    world.sim.add_agent(AHMED)

    world.run_until(promise.window_end)

    failed = world.promise(promise.id)
    assert failed.state == "failed" and failed.reason.startswith("invalid number")
    with world.runtime.db.session() as session:
        [text] = session.scalars(select(SmsMessage).where(SmsMessage.promise_id == promise.id)).all()
        assert text.purpose == "promise_failed" and text.status == "failed"  # the network refused it too
        assert session.get(Agent, ahmed.id).state == AgentState.AVAILABLE.value
    assert "De klant is niet bereikt." in world.calls_to(AHMED)[0].transcript.system_text


def test_redis_flushed_with_promises_pending_all_are_dialled_in_their_windows(world, technisch, make_agent) -> None:
    for index in range(3):
        make_agent(f"Agent {index}", f"+3161111000{index}", ("technisch",))
        world.sim.add_agent(f"+3161111000{index}")
    numbers = [f"+3161234560{index}" for index in range(4)]
    promises = [
        book(world, technisch, number, minutes_ahead=10 + 5 * index, problem="modem")
        for index, number in enumerate(numbers)
    ]
    for number in numbers:
        world.sim.add_callee(number)
    world.reconcile_every = timedelta(seconds=30)

    world.run_until(world.clock.now() + timedelta(minutes=5))
    world.runtime.redis.flushdb()  # Redis restarts empty: every dial job is gone
    world.run_until(promises[-1].window_end)

    for promise, number in zip(promises, numbers, strict=True):
        assert_kept_once(world, promise, number)
        kept = world.promise(promise.id)
        assert kept.first_dial_at - promise.planned_dial_at < timedelta(minutes=1)
