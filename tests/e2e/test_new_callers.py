"""A contact center that starts without callers: the first call from a number makes its caller,
and the second call about the same problem is a repeat (history, sticky agent, first-contact resolution).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from ivr.calls import answer_call
from routing.agents import change_agent_state
from routing.history import resolved_at_first_contact
from routing.models import Agent, Caller, Contact
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime
from tests.integration.twilio_requests import signed_post

NEW_NUMBER = "+31687650001"


@pytest.fixture
def facturen(make_queue: Any, make_intent: Any) -> Any:
    queue = make_queue("facturen", default_handle_seconds=120)
    make_intent("factuur", queue, key="1", label_nl="facturen", nl=["factuur klopt niet", "rekening"])
    return queue


def contact_of(runtime: Runtime, call_sid: str) -> Contact:
    with runtime.db.session() as session:
        contact = session.scalars(select(Contact).where(Contact.call_sid == call_sid)).one()
        session.expunge(contact)
        return contact


def test_a_new_number_is_remembered_and_its_second_call_reaches_the_same_agent_as_a_repeat(
    sim: Simulator, runtime: Runtime, clock: ManualClock, make_agent: Any, facturen: Any
) -> None:
    sanne = make_agent("Sanne", "+31611110001", ("facturen",))
    sim.add_agent(sanne.phone)
    first = sim.place_inbound_call(NEW_NUMBER, script=["mijn factuur klopt niet"], max_seconds=600)
    sim.run_until_idle()
    first_contact = contact_of(runtime, first.call_sid)
    assert first_contact.caller_id is not None and first_contact.agent_id == sanne.id
    # Another agent is free too: the second call goes to Sanne because she had the first.
    kees = make_agent("Kees", "+31611110002", ("facturen",))
    sim.add_agent(kees.phone)
    with runtime.db.session() as session:
        change_agent_state(session, sanne.id, "available", clock.now())

    second = sim.place_inbound_call(NEW_NUMBER, script=["mijn factuur klopt nog steeds niet"], max_seconds=600)
    sim.run_until_idle()

    second_contact = contact_of(runtime, second.call_sid)
    assert second_contact.caller_id == first_contact.caller_id
    assert second_contact.agent_id == sanne.id
    assert second_contact.priority > first_contact.priority
    whispers = {c.transcript.system_text.split(".")[0] for c in sim.calls() if c.to == sanne.phone}
    assert whispers == {
        "Onbekende beller, mijn factuur klopt niet, eerste contact deze week",
        "Onbekende beller, mijn factuur klopt nog steeds niet, tweede contact deze week",
    }
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Caller)) == 1
        assert session.get(Caller, first_contact.caller_id).number == NEW_NUMBER
        assert session.get(Agent, kees.id).state == "available"  # never rung
        assert resolved_at_first_contact(session, first_contact.id, clock.now()) is False


@pytest.mark.parametrize("withheld", ["anonymous", "266696687", "+266696687", "", "Restricted"])
def test_a_withheld_number_never_makes_a_caller(client: Any, runtime: Runtime, withheld: str) -> None:
    for index in range(2):
        signed_post(
            client,
            runtime.settings.twilio_auth_token,
            "/twilio/voice",
            {"CallSid": f"CA{index:032d}", "From": withheld},
        )
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Caller)) == 0
        contacts = session.scalars(select(Contact)).all()
        assert len(contacts) == 2 and all(c.caller_id is None for c in contacts)


def test_the_language_a_new_caller_chose_is_kept_for_their_next_call(client: Any, runtime: Runtime) -> None:
    token = runtime.settings.twilio_auth_token
    first = {"CallSid": "CA" + "1" * 32, "From": NEW_NUMBER}
    signed_post(client, token, "/twilio/voice", first)
    signed_post(client, token, "/twilio/voice/gather", {**first, "Digits": "9"})
    with runtime.db.session() as session:
        assert session.scalars(select(Caller.language)).one() == "en"
    answer = signed_post(client, token, "/twilio/voice", {"CallSid": "CA" + "2" * 32, "From": NEW_NUMBER})
    assert "In a few words, what is your call about?" in answer.get_data(as_text=True)


def test_making_the_caller_costs_the_first_call_no_statement_more_on_postgresql(
    runtime: Runtime, clock: ManualClock, make_caller: Any, facturen: Any
) -> None:
    """On PostgreSQL an incoming call is one read and one write, also when the write makes the caller."""
    make_caller("+31687650002", "Bekende beller")
    # A web process's first call loads the configuration it keeps from then on.
    answer_call(runtime, call_sid="CA" + "5" * 32, from_="anonymous", now=clock.now())

    def statements_of(number: str, call_sid: str) -> list[str]:
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        event.listen(runtime.db.engine, "before_cursor_execute", count)
        try:
            answer_call(runtime, call_sid=call_sid, from_=number, now=clock.now())
        finally:
            event.remove(runtime.db.engine, "before_cursor_execute", count)
        return [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))]

    known = statements_of("+31687650002", "CA" + "3" * 32)
    new = statements_of(NEW_NUMBER, "CA" + "4" * 32)
    if runtime.db.engine.dialect.name == "postgresql":
        assert len(new) == len(known) == 2
    else:
        assert len(new) == len(known) + 1  # SQLite has no INSERT inside a WITH: the caller is one more
    with runtime.db.session() as session:
        assert session.scalars(select(Caller.number).order_by(Caller.id)).all() == ["+31687650002", NEW_NUMBER]
