"""Whole callbacks through the simulator against the live app, on real Redis, driven by one ManualClock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from routing.models import Agent, AgentState, Contact
from telephony.simulator import Party, Reply
from terugbel.audit import AuditEntry
from tests.e2e.callback_driver import CallbackWorld, book

WRAP_UP = timedelta(seconds=60)  # TERUGBEL_WRAP_UP_SECONDS' default: the agent's time after a call
AHMED = "+31611110001"
SANNE = "+31611110002"
JAN = "+31612345678"
LISA = "+31687654321"








def agent_state(world: CallbackWorld, agent_id: int) -> str:
    with world.runtime.db.session() as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        return agent.state


def test_human_answers_agent_first_with_whisper_then_bridged(world, technisch, make_agent, make_caller) -> None:
    ahmed = make_agent("Ahmed", AHMED, ("technisch",))
    jan = make_caller(JAN, name="Jan Jansen")
    promise = book(world, technisch, JAN, caller_id=jan.id, problem="mijn modem knippert rood")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN)

    world.run_until(promise.window_end)

    kept = world.promise(promise.id)
    assert kept.state == "completed"
    assert kept.first_dial_at == promise.planned_dial_at and kept.connected_at is not None
    assert kept.attempts == 1 and kept.agent_id == ahmed.id
    [attempt] = world.attempts(promise.id)
    assert (attempt.state, attempt.answered_by, attempt.agent_id) == ("completed", "human", ahmed.id)
    [agent_call] = world.calls_to(AHMED)
    [caller_call] = world.calls_to(JAN)
    assert agent_call.date_created < caller_call.date_created  # the agent first
    whisper = agent_call.transcript.system_text
    assert "Jan Jansen" in whisper and "mijn modem knippert rood" in whisper
    assert "Eerste contact deze week." in whisper and "Druk 1 om te verbinden, 2 om door te geven." in whisper
    assert "(presses 1)" in agent_call.transcript.said_by("agent")
    heard = caller_call.transcript.system_text
    assert "dit is de terugbelafspraak die u maakte met Terugbel over mijn modem knippert rood" in heard
    conference = f"(joins conference terugbel-callback-{attempt.id})"
    assert conference in agent_call.transcript.said_by("system") and conference in caller_call.transcript.said_by(
        "system"
    )
    world.run_until(world.clock.now() + WRAP_UP)
    assert agent_state(world, ahmed.id) == AgentState.AVAILABLE.value  # wrap-up over
    with world.runtime.db.session() as session:
        contact = session.scalars(select(Contact).where(Contact.call_sid == caller_call.sid)).one()
        assert (contact.channel, contact.caller_id, contact.agent_id) == ("callback", jan.id, ahmed.id)
        assert contact.ended_at is not None


def test_the_agent_records_the_outcome_with_a_key(world, technisch, make_agent, make_caller) -> None:
    ahmed = make_agent("Ahmed", AHMED, ("technisch",))
    jan = make_caller(JAN, name="Jan Jansen")
    promise = book(world, technisch, JAN, caller_id=jan.id, problem="modem")
    world.sim.network.parties.add(
        Party(
            number=AHMED,
            role="agent",
            whisper_key="1",
            talk_seconds=60,
            replies=(Reply(press="2", when_heard="vervolg nodig"),),
        )
    )
    world.sim.add_callee(JAN)

    world.run_until(promise.window_end)

    with world.runtime.db.session() as session:
        contact = session.scalars(select(Contact).where(Contact.agent_id == ahmed.id)).one()
        assert contact.resolved is False  # 2 = follow-up needed


def test_voicemail_then_answer_at_the_announced_time(world, technisch, make_agent, make_caller) -> None:
    make_agent("Ahmed", AHMED, ("technisch",))
    lisa = make_caller(LISA, name="Lisa de Boer")
    promise = book(world, technisch, LISA, caller_id=lisa.id, problem="geen tv")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(LISA, answered_by="machine_end_beep")

    world.run_until(promise.planned_dial_at + timedelta(minutes=2))

    retry = world.promise(promise.id)
    assert retry.state == "booked" and retry.attempts == 1 and retry.next_attempt_at is not None
    [first] = world.attempts(promise.id)
    assert (first.state, first.answered_by) == ("voicemail", "machine_end_beep")
    [voicemail] = world.calls_to(LISA)
    announced = retry.next_attempt_at.astimezone(technisch_zone()).strftime("%H:%M")
    assert f"We bellen u opnieuw vandaag om {announced}." in voicemail.transcript.system_text
    [sms] = [m for m in world.sim.sent_messages() if m.to == LISA]
    assert f"We bellen u opnieuw vandaag om {announced}" in sms.body
    assert agent_state(world, first.agent_id) == AgentState.AVAILABLE.value  # released at once

    world.sim.add_callee(LISA)  # she answers the second time
    world.run_until(promise.window_end)

    kept = world.promise(promise.id)
    assert kept.state == "completed" and kept.attempts == 2
    second = world.attempts(promise.id)[1]
    assert second.state == "completed" and second.started_at == retry.next_attempt_at
    assert len(world.calls_to(LISA)) == 2


def technisch_zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Amsterdam")


def test_busy_then_answer(world, technisch, make_agent, make_caller) -> None:
    make_agent("Ahmed", AHMED, ("technisch",))
    promise = book(world, technisch, JAN, problem="modem")
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN, busy=True)

    world.run_until(promise.planned_dial_at + timedelta(minutes=2))
    assert [a.state for a in world.attempts(promise.id)] == ["busy"]
    retry_at = world.promise(promise.id).next_attempt_at - world.attempts(promise.id)[0].ended_at
    assert timedelta(minutes=3) <= retry_at < timedelta(minutes=3, seconds=1)  # busy: 3 minutes, whole seconds
    assert [m for m in world.sim.sent_messages() if m.to == JAN] == []  # busy: no voicemail, no text
    # The agent who waited for Jan is told, and let go at once.
    [agent_leg] = [c for c in world.sim.calls() if c.to == AHMED]
    assert "De klant is niet bereikt. U bent weer beschikbaar." in agent_leg.transcript.system_text

    world.sim.add_callee(JAN)
    world.run_until(promise.window_end)

    assert [a.state for a in world.attempts(promise.id)] == ["busy", "completed"]
    assert world.promise(promise.id).state == "completed"


def test_agent_passes_and_the_next_agent_takes_it(world, technisch, make_agent) -> None:
    sanne = make_agent("Sanne", SANNE, ("technisch",))
    ahmed = make_agent("Ahmed", AHMED, ("technisch",))
    promise = book(world, technisch, JAN, problem="modem", preferred_agent_id=sanne.id)
    world.sim.network.parties.add(Party(number=SANNE, role="agent", whisper_key="2"))
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN)

    world.run_until(promise.window_end)

    [attempt] = world.attempts(promise.id)
    assert attempt.state == "completed" and attempt.agent_id == ahmed.id and attempt.agents_tried == [sanne.id]
    [passed] = world.calls_to(SANNE)
    [taken] = world.calls_to(AHMED)
    assert passed.date_created < taken.date_created
    assert "Doorgegeven aan een collega." in passed.transcript.system_text
    assert len(world.calls_to(JAN)) == 1
    world.run_until(world.clock.now() + WRAP_UP)
    assert agent_state(world, sanne.id) == agent_state(world, ahmed.id) == AgentState.AVAILABLE.value


def test_no_agent_free_until_the_end_texts_a_new_time_and_alerts(world, technisch, make_agent, make_caller) -> None:
    make_agent("Ahmed", AHMED, ("technisch",), state=AgentState.AWAY.value)  # on shift, but away all along
    pieter = make_caller(JAN, name="Pieter")
    promise = book(world, technisch, JAN, caller_id=pieter.id, problem="modem")

    world.run_until(promise.window_end)

    missed = world.promise(promise.id)
    assert missed.state == "missed" and missed.at_risk and missed.moved_to_id is not None
    assert world.calls_to(JAN) == []
    assert {a.state for a in world.attempts(promise.id)} == {"no_agent"}
    new = world.promise(missed.moved_to_id)
    assert new.state == "booked" and new.window_start >= promise.window_end
    [sms] = [m for m in world.sim.sent_messages() if m.to == JAN]
    assert sms.date_created < promise.window_end  # told before the window ends
    new_start = new.window_start.astimezone(technisch_zone()).strftime("%H:%M")
    assert f"We bellen u nu vandaag tussen {new_start}" in sms.body
    with world.runtime.db.session() as session:
        alerts = session.scalars(select(AuditEntry).where(AuditEntry.action == "promise_at_risk")).all()
        assert [a.subject for a in alerts] == [f"promise {promise.id}"]
