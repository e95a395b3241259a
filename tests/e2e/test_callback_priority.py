"""Priority kept at dial time: with one agent free, the VIP's callback is dialled before a plain caller's."""

from __future__ import annotations

from sqlalchemy import select

from callbacks.booking import book_callback, move_promise
from callbacks.models import CallbackPromise
from routing.models import Contact
from tests.e2e.callback_driver import CallbackWorld, book

AHMED = "+31611110001"
SANNE = "+31611110002"
PLAIN = "+31612345601"
VIP = "+31612345602"


def test_the_vip_is_dialled_first_when_one_agent_is_free(world: CallbackWorld, technisch, make_agent) -> None:
    ahmed = make_agent("Ahmed", AHMED, ("technisch",))
    # Both due at the same moment; the plain caller booked first, so its job comes first in line.
    with world.runtime.db.session() as session:
        booking_call = Contact(channel="call", outcome="callback_booked", started_at=world.clock.now())
        session.add(booking_call)
        session.commit()
        booking_id = booking_call.id
    plain = book(world, technisch, PLAIN, problem="modem")
    vip = book(world, technisch, VIP, problem="storing", priority=2, contact_id=booking_id)
    assert plain.planned_dial_at == vip.planned_dial_at and plain.id < vip.id
    world.sim.add_agent(AHMED)
    world.sim.add_callee(PLAIN)
    world.sim.add_callee(VIP)

    world.run_until(plain.window_end)

    kept_plain, kept_vip = world.promise(plain.id), world.promise(vip.id)
    assert kept_vip.state == "completed" and kept_plain.state == "completed"
    [vip_attempt] = world.attempts(vip.id)
    assert vip_attempt.agent_id == ahmed.id and vip_attempt.started_at == vip.planned_dial_at
    plain_attempts = world.attempts(plain.id)
    assert plain_attempts[0].state == "no_agent"  # left the one free agent to the VIP
    assert plain_attempts[-1].agent_id == ahmed.id
    assert kept_vip.connected_at is not None and kept_plain.connected_at is not None
    assert kept_vip.connected_at < kept_plain.connected_at <= plain.window_end
    calls = world.calls_to(AHMED)
    assert len(calls) == 2  # the agent was rung once for each, the VIP first
    with world.runtime.db.session() as session:
        kept_call = session.scalars(select(Contact).where(Contact.call_sid == world.calls_to(VIP)[0].sid)).one()
        assert kept_call.channel == "callback" and kept_call.continues_contact_id == booking_id  # one contact


def test_equal_priority_and_enough_agents_change_nothing(world: CallbackWorld, technisch, make_agent) -> None:
    make_agent("Ahmed", AHMED, ("technisch",))
    make_agent("Sanne", SANNE, ("technisch",))
    plain = book(world, technisch, PLAIN, problem="modem")
    vip = book(world, technisch, VIP, problem="storing", priority=2)
    world.sim.add_agent(AHMED)
    world.sim.add_agent(SANNE)
    world.sim.add_callee(PLAIN)
    world.sim.add_callee(VIP)

    world.run_until(plain.window_end)

    for promise in (plain, vip):
        [attempt] = world.attempts(promise.id)  # two agents free: nobody waits
        assert attempt.started_at == promise.planned_dial_at and world.promise(promise.id).state == "completed"


def test_a_booking_carries_the_priority_and_a_move_keeps_it(world: CallbackWorld, technisch, make_agent) -> None:
    make_agent("Ahmed", AHMED, ("technisch",))
    now = world.clock.now()
    with world.runtime.db.session() as session:
        promise = book_callback(
            session, queue_id=technisch.id, number=VIP, language="nl", timezone="Europe/Amsterdam", now=now,
            priority=3, notify=False,
        )  # fmt: skip
        session.commit()
        promise_id = promise.id
    with world.runtime.db.session() as session:

        moved = move_promise(session, promise_id, now, cause="booked again", notify=False)
        session.commit()
        assert session.get(CallbackPromise, moved.id).priority == 3
