"""STOP and START, as Twilio and the carriers mean them: no more texts, the time said on the phone, texts again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from telephony.models import SmsMessage, SmsOptOut
from telephony.outbox import OPTED_OUT, queue_sms, send_pending
from telephony.simulator import Reply, Simulator
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work

PIETER = "+31612345678"


@pytest.fixture
def technisch(make_queue: Any, make_intent: Any, make_agent: Any) -> Any:
    queue = make_queue("technisch", default_handle_seconds=120)
    make_intent("internet", queue, key="1", label_nl="internet", nl=["internet doet het niet", "modem knippert"])
    for index in range(3):  # busy: the caller is offered a callback
        make_agent(f"Agent {index}", f"+3161111000{index}", ("technisch",), state="on_call")
    return queue


def book_by_phone(sim: Simulator) -> str:
    """Pieter calls, is offered a callback while waiting and takes it; return what he heard."""
    call = sim.place_inbound_call(
        PIETER,
        script=["mijn modem knippert rood", Reply(press="1", when_heard="liever wordt teruggebeld")],
        max_seconds=300,
    )
    sim.run_until_idle()
    return call.system_text


def outbound(runtime: Runtime) -> list[SmsMessage]:
    with runtime.db.session() as session:
        messages = list(session.scalars(select(SmsMessage).where(SmsMessage.direction == "outbound")))
        session.expunge_all()
        return messages


def texts_to(sim: Simulator, number: str) -> list[str]:
    return [m.body for m in sim.sent_messages() if m.to == number]


def test_stop_means_no_texts_and_the_time_is_said_twice_then_start_restores_them(
    sim: Simulator, runtime: Runtime, clock: ManualClock, technisch: Any
) -> None:
    sim.send_inbound_sms(PIETER, body=" Stop ")
    assert texts_to(sim, PIETER) == []  # no answer of ours: the carrier confirms an opt-out itself
    with runtime.db.session() as session:
        assert session.get(SmsOptOut, PIETER) is not None

    heard = book_by_phone(sim)
    assert "We kunnen u geen sms sturen, dus nog een keer: we bellen u vandaag tussen" in heard
    assert "U krijgt een sms" not in heard
    send_pending(runtime)
    assert texts_to(sim, PIETER) == []
    assert [m.purpose for m in outbound(runtime)] == []  # no confirmation was even queued

    # Any other text to the number (an incident fixed, say) is kept back, never sent.
    with unit_of_work(runtime) as session:
        held = queue_sms(session, to=PIETER, body="De storing is verholpen.", purpose="incident_fixed", now=clock.now())
    send_pending(runtime)
    assert {m.id: m.status for m in outbound(runtime)} == {held.id: OPTED_OUT}
    assert texts_to(sim, PIETER) == []

    sim.send_inbound_sms(PIETER, body="START")
    with runtime.db.session() as session:
        assert session.get(SmsOptOut, PIETER) is None
    with unit_of_work(runtime) as session:
        queue_sms(session, to=PIETER, body="Uw terugbelafspraak staat.", purpose="reminder", now=clock.now())
    send_pending(runtime)
    assert "Uw terugbelafspraak staat." in texts_to(sim, PIETER)


def test_a_number_the_network_refuses_with_21610_is_recorded_as_opted_out(
    sim: Simulator, runtime: Runtime, clock: ManualClock
) -> None:
    # Opted out with the carrier without our knowing (a STOP to another of the center's numbers).
    sim.network.blocked_numbers.add(PIETER)
    with unit_of_work(runtime) as session:
        first = queue_sms(session, to=PIETER, body="Eerste bericht.", purpose="reminder", now=clock.now())
    assert send_pending(runtime) == {first.id: OPTED_OUT}
    with runtime.db.session() as session:
        assert session.get(SmsOptOut, PIETER).keyword == "21610"
    # The next text is not even tried.
    requests_before = len(sim.sent_messages())
    with unit_of_work(runtime) as session:
        second = queue_sms(session, to=PIETER, body="Tweede bericht.", purpose="reminder", now=clock.now())
    assert send_pending(runtime) == {second.id: OPTED_OUT}
    assert len(sim.sent_messages()) == requests_before

