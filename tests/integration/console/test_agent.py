"""The agent view: my callbacks with history, my state, the outcome form; only my own things."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from callbacks.models import CallbackPromise
from routing.models import Agent, Contact
from tests.integration.console_support import logged_in_client


def _promise(db: Any, clock: Any, queue: Any, caller: Any, *, number: str, minutes: int, **fields: Any) -> int:
    start = clock.now() + timedelta(minutes=minutes)
    with db.session() as session:
        promise = CallbackPromise(
            caller_id=caller.id if caller is not None else None,
            queue_id=queue.id,
            number=number,
            language="nl",
            timezone="Europe/Amsterdam",
            window_start=start,
            window_end=start + timedelta(minutes=15),
            planned_dial_at=start,
            booked_at=clock.now(),
            **fields,
        )
        session.add(promise)
        session.flush()
        return promise.id


def _contact(db: Any, clock: Any, caller: Any, *, days_ago: float, **fields: Any) -> int:
    with db.session() as session:
        contact = Contact(
            caller_id=caller.id, channel="call", started_at=clock.now() - timedelta(days=days_ago), **fields
        )
        session.add(contact)
        session.flush()
        return contact.id


def test_agent_sees_next_callbacks_in_time_order_with_history(
    app: Any, db: Any, clock: Any, make_queue: Any, make_agent: Any, make_caller: Any, make_intent: Any
) -> None:
    queue = make_queue("facturen")
    sanne = make_agent("Sanne", skills=("facturen",))
    other = make_agent("Ahmed", phone="+31611110002", skills=("technisch",))
    make_intent("factuur", queue, label_nl="Factuur", label_en="Invoice")
    monique = make_caller("+31611112222", "Monique de Vries")
    jan = make_caller("+31633334444", "Jan Jansen")
    with db.session() as session:
        from routing.models import Intent

        intent_id = session.scalar(select(Intent.id))
    _promise(db, clock, queue, jan, number=jan.number, minutes=90, preferred_agent_id=sanne.id)
    _promise(
        db,
        clock,
        queue,
        monique,
        number=monique.number,
        minutes=30,
        problem="mijn factuur klopt niet",
        intent_id=intent_id,
        preferred_agent_id=sanne.id,
    )
    _promise(db, clock, queue, None, number="+31655556666", minutes=20, preferred_agent_id=other.id)
    _contact(
        db,
        clock,
        monique,
        days_ago=2,
        agent_id=sanne.id,
        outcome="agent",
        resolved=False,
        outcome_note="creditnota aangevraagd",
        transcript="factuur te hoog",
    )
    _contact(db, clock, monique, days_ago=30, outcome="agent", resolved=True)

    client, _ = logged_in_client(app, db, clock.now(), "agent", agent_id=sanne.id)
    page = client.get("/console/agent").get_data(as_text=True)
    assert page.index("Monique de Vries") < page.index("Jan Jansen")  # time order
    assert "+31655556666" not in page  # another agent's preferred callback
    assert "mijn factuur klopt niet" in page
    assert "Invoice" in page and "Factuur" not in page  # intents in the user's language
    assert "creditnota aangevraagd" in page and "factuur te hoog" in page
    assert 'class="contacts-week">1<' in page  # the contact 30 days ago is history, not this week
    assert "today between 09:30 and 09:45" in page


def test_agent_switches_state_in_one_click(app: Any, db: Any, clock: Any, make_agent: Any) -> None:
    sanne = make_agent("Sanne")
    client, token = logged_in_client(app, db, clock.now(), "agent", agent_id=sanne.id)
    clock.advance(minutes=5)
    response = client.post(
        "/console/agent/state", data={"state": "away", "csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'id="my-state"' in response.get_data(as_text=True)
    with db.session() as session:
        agent = session.get(Agent, sanne.id)
        assert agent is not None and agent.state == "away" and agent.state_changed_at == clock.now()
    refused = client.post("/console/agent/state", data={"state": "on_call", "csrf_token": token})
    assert refused.status_code == 422 and "must be available or away" in refused.get_data(as_text=True)


def test_an_agent_on_a_call_is_told_in_their_language_to_change_state_after_it(
    app: Any, db: Any, clock: Any, make_agent: Any
) -> None:
    busy = make_agent("Sanne", state="on_call")
    client, token = logged_in_client(app, db, clock.now(), "agent", agent_id=busy.id, language="nl")
    refused = client.post("/console/agent/state", data={"state": "away", "csrf_token": token})
    assert refused.status_code == 422
    assert "u bent in gesprek; wijzig uw status daarna" in refused.get_data(as_text=True)


def test_agent_records_an_outcome_for_own_contact_only(
    app: Any, db: Any, clock: Any, make_agent: Any, make_caller: Any
) -> None:
    sanne = make_agent("Sanne")
    ahmed = make_agent("Ahmed", phone="+31611110002")
    caller = make_caller()
    mine = _contact(db, clock, caller, days_ago=0.01, agent_id=sanne.id, outcome="agent")
    theirs = _contact(db, clock, caller, days_ago=0.02, agent_id=ahmed.id, outcome="agent")
    client, token = logged_in_client(app, db, clock.now(), "agent", agent_id=sanne.id)
    assert f'id="outcome-{mine}"' in client.get("/console/agent").get_data(as_text=True)

    missing = client.post(f"/console/agent/outcome/{mine}", data={"note": "x", "csrf_token": token})
    assert missing.status_code == 422 and "Choose resolved or follow-up." in missing.get_data(as_text=True)

    done = client.post(
        f"/console/agent/outcome/{mine}", data={"resolved": "no", "note": "belt morgen terug", "csrf_token": token}
    )
    assert done.status_code == 302
    guessed = client.post(f"/console/agent/outcome/{theirs}", data={"resolved": "yes", "csrf_token": token})
    assert guessed.status_code == 404
    with db.session() as session:
        assert session.get(Contact, mine).resolved is False
        assert session.get(Contact, mine).outcome_note == "belt morgen terug"
        assert session.get(Contact, theirs).resolved is None
    assert f'id="outcome-{mine}"' not in client.get("/console/agent").get_data(as_text=True)


def test_callers_words_and_names_are_shown_escaped(
    app: Any, db: Any, clock: Any, make_queue: Any, make_agent: Any, make_caller: Any
) -> None:
    queue = make_queue()
    sanne = make_agent()
    caller = make_caller("+31611112222", "<script>alert('naam')</script>")
    _promise(
        db,
        clock,
        queue,
        caller,
        number=caller.number,
        minutes=30,
        problem="<script>alert(1)</script>",
        preferred_agent_id=sanne.id,
    )
    client, _ = logged_in_client(app, db, clock.now(), "agent", agent_id=sanne.id)
    page = client.get("/console/agent").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_agent_account_without_agent_sees_a_clear_message(app: Any, db: Any, clock: Any) -> None:
    client, _ = logged_in_client(app, db, clock.now(), "agent")
    assert "not linked to an agent" in client.get("/console/agent").get_data(as_text=True)
