"""Whole calls through the simulated Twilio against the app served over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from routing.models import Contact, IncidentSubscription, Intent, QueueEntry
from telephony.outbox import send_pending
from telephony.simulator import Reply, Simulator
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime

AMS = ZoneInfo("Europe/Amsterdam")
PIETER = "+31612345678"
# Story 6 names +44 7700 900123, a drama range no network assigns: callbacks refuse to book it.
EMMA = "+447911123456"


@pytest.fixture
def center(make_queue: Any, make_intent: Any) -> dict[str, Any]:
    # A short handle time, so one agent's shift leaves room for callbacks in every slot.
    technisch = make_queue("technisch", default_handle_seconds=120)
    facturen = make_queue("facturen", default_handle_seconds=120)
    algemeen = make_queue("algemeen", default_handle_seconds=120)
    make_intent(
        "internet",
        technisch,
        key="1",
        label_nl="internet en tv",
        label_en="internet and tv",
        nl=["internet doet het niet", "modem knippert", "storing"],
        en=["internet is down", "modem", "outage"],
    )
    make_intent(
        "factuur", facturen, key="2", label_nl="facturen", label_en="invoices",
        nl=["factuur klopt niet", "rekening", "betaling"], en=["invoice", "bill", "package never arrived"],
    )  # fmt: skip
    return {"technisch": technisch, "facturen": facturen, "algemeen": algemeen}


def contact_of(runtime: Runtime, call_sid: str) -> Contact:
    with runtime.db.session() as session:
        contact = session.scalar(select(Contact).where(Contact.call_sid == call_sid))
        assert contact is not None
        session.expunge(contact)
        return contact


def test_unknown_dutch_caller_is_queued_with_an_announced_wait(
    sim: Simulator, runtime: Runtime, center: dict[str, Any], make_agent: Callable[..., Any]
) -> None:
    for index in range(3):
        make_agent(f"Agent {index}", f"+3161111000{index}", ("technisch",), state="on_call")
    call = sim.place_inbound_call("+31687654321", script=["mijn modem knippert rood"], max_seconds=120)
    heard = call.system_text
    assert "Welkom bij Terugbel" in heard and "Vertel in een paar woorden waarover u belt" in heard
    assert "For English, press 9." in heard
    assert "U komt in de wachtrij. De wachttijd is ongeveer" in heard
    assert "U bent nummer 1 in de rij." in heard
    assert "Ik verbind u door." not in heard and "direct een medewerker" not in heard
    assert "Toets 1 als u liever wordt teruggebeld, vandaag om" in heard
    assert "Enqueue" in call.verbs
    assert call.errors == []
    with runtime.db.session() as session:
        entry = session.scalar(select(QueueEntry).where(QueueEntry.call_sid == call.call_sid))
        assert entry is not None and entry.queue_id == center["technisch"].id
    contact = contact_of(runtime, call.call_sid)
    assert contact.transcript == "mijn modem knippert rood"
    assert contact.questions_asked == 1


def test_a_caller_with_an_agent_free_hears_only_that_and_is_put_through(
    sim: Simulator, runtime: Runtime, center: dict[str, Any], make_agent: Callable[..., Any]
) -> None:
    make_agent("Sanne", "+31611110001", ("technisch",))
    sim.add_agent("+31611110001")
    call = sim.place_inbound_call("+31687654321", script=["mijn modem knippert rood"], max_seconds=120)
    heard = call.system_text
    assert "Ik verbind u door. Er is direct een medewerker voor u vrij." in heard
    assert "Een ogenblik, u wordt nu doorverbonden met een medewerker." in heard
    assert "in de rij" not in heard and "wachttijd" not in heard and "teruggebeld" not in heard
    assert call.errors == []
    assert contact_of(runtime, call.call_sid).outcome == "agent"


def test_known_caller_is_greeted_by_name(sim: Simulator, make_caller: Any, center: dict[str, Any]) -> None:
    make_caller(PIETER, "Pieter Bakker")
    call = sim.place_inbound_call(PIETER, script=[Reply(hang_up=True)], max_seconds=60)
    assert "Goedendag Pieter Bakker." in call.system_text


def test_incident_first_and_sms_when_resolved(
    sim: Simulator, runtime: Runtime, clock: ManualClock, client: Any, api_token: Any, make_caller: Any,
    center: dict[str, Any],
) -> None:  # fmt: skip
    """Story 1: the outage is said before any question, 1 asks for a text, resolving sends exactly one."""
    make_caller(PIETER, "Pieter Bakker", products=["internet"])
    clock.set(datetime(2026, 11, 23, 10, 2, tzinfo=AMS))
    headers = api_token("supervisor")
    created = client.post(
        "/api/incidents",
        json={
            "title": "Storing Utrecht",
            "message_nl": "Er is een internetstoring in regio Utrecht.",
            "message_en": "There is an internet outage in the Utrecht region.",
            "match_prefixes": ["+31612"],
            "expected_fix_at": datetime(2026, 11, 23, 12, 0, tzinfo=AMS).isoformat(),
        },
        headers=headers,
    )
    assert created.status_code == 201, created.json
    call = sim.place_inbound_call(PIETER, script=[Reply(press="1"), Reply(hang_up=True)], max_seconds=120)
    first = call.said_by("system")[0]
    assert first == "Er is een internetstoring in regio Utrecht."
    assert "We verwachten dat het vandaag om 12:00 is opgelost." in call.system_text
    assert "U krijgt een sms als het is opgelost." in call.system_text
    assert "tevreden" not in call.system_text
    told = next(turn for turn in call.turns if turn.what == "U krijgt een sms als het is opgelost.")
    assert (told.at - call.turns[0].at).total_seconds() < 30  # he can hang up here, informed
    with runtime.db.session() as session:
        assert session.scalars(select(IncidentSubscription)).one().number == PIETER
    sim.run_until_idle()
    assert contact_of(runtime, call.call_sid).outcome == "informed_by_incident"

    clock.set(datetime(2026, 11, 23, 11, 40, tzinfo=AMS))
    incident_id = created.json["id"]
    assert client.post(f"/api/incidents/{incident_id}/resolve", headers=headers).status_code == 200
    send_pending(runtime)  # what the SMS worker does
    assert client.post(f"/api/incidents/{incident_id}/resolve", headers=headers).status_code == 200
    send_pending(runtime)
    texts = [m for m in sim.sent_messages() if m.to == PIETER]
    assert len(texts) == 1
    assert "opgelost" in texts[0].body


def test_english_caller_after_hours_books_the_time_they_say(
    sim: Simulator, runtime: Runtime, clock: ManualClock, make_caller: Any, make_agent: Any, center: dict[str, Any]
) -> None:
    """Story 6: an English caller at 21:30, queue closed, says "tomorrow at eleven" and gets 11:00–11:15."""
    tomorrow = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    make_agent("Sanne", "+31611110001", ("facturen",), shifts=[(tomorrow, tomorrow + timedelta(hours=13))])
    clock.set(datetime(2026, 11, 23, 21, 30, tzinfo=AMS))
    call = sim.place_inbound_call(EMMA, script=["my package never arrived", "tomorrow at eleven"], max_seconds=180)
    heard = call.system_text
    assert "In a few words, what is your call about?" in heard
    assert "Voor Nederlands, toets 9." in heard
    assert "We are closed right now." in heard
    assert "We can call you back tomorrow between" in heard and "or say another time" in heard
    assert "Done: we will call you tomorrow between 11:00 and 11:15" in heard
    sim.run_until_idle()
    assert contact_of(runtime, call.call_sid).outcome == "callback_booked"
    from callbacks.models import CallbackPromise

    with runtime.db.session() as session:
        promise = session.scalars(select(CallbackPromise)).one()
    # Her times are said in her own zone: 11:00 in London is 12:00 in Amsterdam.
    assert promise.timezone == "Europe/London" and promise.language == "en"
    assert promise.window_start.astimezone(ZoneInfo("Europe/London")).hour == 11


def test_a_callback_time_at_the_first_question_books_it_after_one_question_about_the_problem(
    sim: Simulator, runtime: Runtime, clock: ManualClock, make_agent: Any, center: dict[str, Any]
) -> None:
    """First "bel me morgen om tien uur terug": the time is taken, the problem asked, then 10:00 booked."""
    from callbacks.models import CallbackPromise

    clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=AMS))
    tomorrow = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    make_agent("Sanne", "+31611110001", ("facturen",), shifts=[(tomorrow, tomorrow + timedelta(hours=13))])
    call = sim.place_inbound_call(
        PIETER, script=["bel me morgen om tien uur terug", "mijn factuur klopt niet"], max_seconds=180
    )
    heard = call.system_text
    assert "niet begrepen" not in heard
    assert "Goed, we bellen u morgen om 10:00 terug. Waarover gaat het, in een paar woorden?" in heard
    assert "Geregeld: we bellen u morgen tussen 10:00 en 10:15" in heard
    assert call.errors == []
    sim.run_until_idle()
    contact = contact_of(runtime, call.call_sid)
    assert contact.outcome == "callback_booked" and contact.questions_asked == 2
    with runtime.db.session() as session:
        promise = session.scalars(select(CallbackPromise)).one()
    assert promise.queue_id == center["facturen"].id and promise.number == PIETER
    assert promise.window_start.astimezone(AMS) == datetime(2026, 11, 24, 10, 0, tzinfo=AMS)
    assert promise.problem == "bel me morgen om tien uur terug / mijn factuur klopt niet"


def test_language_switch_by_key(sim: Simulator, center: dict[str, Any]) -> None:
    call = sim.place_inbound_call("+31687654321", script=[Reply(press="9"), Reply(hang_up=True)], max_seconds=60)
    said = call.said_by("system")
    assert any("Vertel in een paar woorden" in s for s in said)
    assert any("In a few words, what is your call about?" in s for s in said)


def test_no_input_twice_goes_to_a_person_without_a_third_question(
    sim: Simulator, runtime: Runtime, center: dict[str, Any], make_agent: Any
) -> None:
    make_agent("Ahmed", "+31611110002", ("algemeen",), state="on_call")
    call = sim.place_inbound_call("+31687654321", script=[], max_seconds=90)
    heard = call.system_text
    assert heard.count("waarover u belt") == 2
    assert "Ik heb u niet gehoord." in heard
    assert "Ik verbind u met een medewerker." in heard
    assert contact_of(runtime, call.call_sid).questions_asked == 2


def test_misrecognised_problem_is_corrected_by_the_confirmation(
    sim: Simulator, runtime: Runtime, center: dict[str, Any], make_agent: Any
) -> None:
    make_agent("Sanne", "+31611110001", ("facturen",), state="on_call")
    call = sim.place_inbound_call(
        "+31687654321", script=["iets met mijn internet", "nee het gaat om mijn rekening"], max_seconds=120
    )
    assert "Ik heb begrepen: internet en tv. Toets 1 als dat klopt, 2 als dat niet klopt." in call.system_text
    with runtime.db.session() as session:
        entry = session.scalar(select(QueueEntry).where(QueueEntry.call_sid == call.call_sid))
        assert entry is not None and entry.queue_id == center["facturen"].id


def _book_promise(runtime: Runtime, clock: ManualClock, queue_id: int, number: str) -> Any:
    from callbacks.booking import book_callback
    from terugbel.unit_of_work import unit_of_work

    with unit_of_work(runtime) as session:
        promise = book_callback(
            session, queue_id=queue_id, number=number, language="nl", timezone="Europe/Amsterdam",
            now=clock.now(), notify=False,
        )  # fmt: skip
        return promise.id, promise.window_start


@pytest.fixture
def promised(runtime: Runtime, clock: ManualClock, center: dict[str, Any], make_agent: Any, make_caller: Any) -> int:
    make_agent("Ahmed", "+31611110002", ("technisch",))
    make_caller(PIETER, "Pieter Bakker")
    promise_id, _ = _book_promise(runtime, clock, center["technisch"].id, PIETER)
    return promise_id


def _promise_state(runtime: Runtime, promise_id: int) -> str:
    from callbacks.models import CallbackPromise

    with runtime.db.session() as session:
        return session.get(CallbackPromise, promise_id).state


def test_open_promise_kept_from_the_menu(sim: Simulator, runtime: Runtime, promised: int) -> None:
    call = sim.place_inbound_call(PIETER, script=[Reply(press="1")], max_seconds=60)
    assert "U heeft een terugbelafspraak vandaag tussen" in call.system_text
    assert "Prima, we bellen u vandaag tussen" in call.system_text
    assert _promise_state(runtime, promised) == "booked"
    sim.run_until_idle()
    assert contact_of(runtime, call.call_sid).outcome == "answered"


def test_open_promise_cancelled_from_the_menu(sim: Simulator, runtime: Runtime, promised: int) -> None:
    call = sim.place_inbound_call(PIETER, script=[Reply(press="3")], max_seconds=60)
    assert "is geannuleerd" in call.system_text
    assert _promise_state(runtime, promised) == "cancelled"


def test_open_promise_moved_from_the_menu(sim: Simulator, runtime: Runtime, promised: int) -> None:
    call = sim.place_inbound_call(PIETER, script=[Reply(press="2"), Reply(press="2")], max_seconds=90)
    assert "We kunnen u vandaag tussen" in call.system_text
    assert "Geregeld: we bellen u" in call.system_text
    assert _promise_state(runtime, promised) == "moved"


def test_closed_queue_leads_to_a_callback_offer(
    sim: Simulator, runtime: Runtime, clock: ManualClock, center: dict[str, Any], make_agent: Any
) -> None:
    tomorrow = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    make_agent("Ahmed", "+31611110002", ("technisch",), shifts=[(tomorrow, tomorrow + timedelta(hours=13))])
    clock.set(datetime(2026, 11, 23, 22, 15, tzinfo=AMS))
    call = sim.place_inbound_call("+31687654321", script=[Reply(press="1"), Reply(press="1")], max_seconds=120)
    heard = call.system_text
    assert "We zijn nu gesloten." in heard
    assert "We kunnen u morgen tussen 08:" in heard
    assert "Geregeld: we bellen u morgen tussen" in heard
    send_pending(runtime)  # what the SMS worker does
    texts = [m for m in sim.sent_messages() if m.to == "+31687654321"]
    assert len(texts) == 1 and "morgen tussen" in texts[0].body


def test_a_callback_on_another_number_typed_read_back_and_confirmed(
    sim: Simulator, runtime: Runtime, clock: ManualClock, center: dict[str, Any], make_agent: Any
) -> None:
    """Press 4 at the offer: a landline is refused with its reason, a mobile number is read back,
    confirmed, called back on and texted."""
    tomorrow = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    make_agent("Ahmed", "+31611110002", ("technisch",), shifts=[(tomorrow, tomorrow + timedelta(hours=13))])
    clock.set(datetime(2026, 11, 23, 22, 15, tzinfo=AMS))
    script = [Reply(press="1"), Reply(press="4"), Reply(press="0201234567#"), Reply(press="0687654300#")]
    script += [Reply(press="1"), Reply(press="1")]
    call = sim.place_inbound_call("+31687654321", script=script, max_seconds=180)
    heard = call.system_text
    assert "Op dat nummer kunnen we geen sms sturen: geef een mobiel nummer." in heard
    assert "We bellen u op 0 6 8 7 6 5 4 3 0 0. Toets 1 als dat klopt" in heard
    assert "Geregeld: we bellen u morgen tussen 08:00 en 08:15 op 0 6 8 7 6 5 4 3 0 0." in heard
    send_pending(runtime)  # what the SMS worker does
    assert [m.to for m in sim.sent_messages()] == ["+31687654300"]
    from callbacks.models import CallbackPromise

    with runtime.db.session() as session:
        assert session.scalars(select(CallbackPromise.number)).all() == ["+31687654300"]


def test_waiting_caller_reaches_the_agent_after_a_whisper(
    sim: Simulator, runtime: Runtime, clock: ManualClock, make_caller: Any, make_agent: Any, center: dict[str, Any]
) -> None:
    """Story 2: a repeat caller's agent hears name, problem in their words and the contact count."""
    from routing.models import Contact as ContactRow

    monique = make_caller("+31687650000", "Monique de Vries")
    sanne = make_agent("Sanne", "+31611110001", ("facturen",))
    sim.add_agent(sanne.phone)
    with runtime.db.session() as session:
        factuur = session.scalar(select(Intent).where(Intent.name == "factuur"))
        session.add(
            ContactRow(
                caller_id=monique.id, channel="call", call_sid="CA-earlier", intent_id=factuur.id,
                outcome="agent", agent_id=sanne.id, queue_id=center["facturen"].id, resolved=False,
                started_at=clock.now() - timedelta(days=2), ended_at=clock.now() - timedelta(days=2),
            )
        )  # fmt: skip
    call = sim.place_inbound_call(monique.number, script=["mijn factuur klopt nog steeds niet"], max_seconds=600)
    assert "Goedendag Monique de Vries." in call.system_text
    agent_calls = [c for c in sim.calls() if c.to == sanne.phone]
    assert agent_calls, call.to_text()
    whisper = agent_calls[0].transcript.system_text
    assert "Monique de Vries, mijn factuur klopt nog steeds niet, tweede contact deze week." in whisper
    sim.run_until_idle()
    contact = contact_of(runtime, call.call_sid)
    assert contact.outcome == "agent" and contact.agent_id == sanne.id
    from routing.models import Agent

    with runtime.db.session() as session:
        assert session.get(Agent, sanne.id).state == "wrap_up"  # the conversation ended


def test_database_down_mid_call_still_answers_with_a_way_forward(
    sim: Simulator, runtime: Runtime, center: dict[str, Any], tmp_path: Any
) -> None:
    from terugbel.db import Database

    runtime.settings = runtime.settings.with_overrides(overflow_number="+31201234567")
    sim.add_callee("+31201234567")
    transcript = sim.place_inbound_call("+31687654321", script=["mijn modem knippert rood"], wait=False)
    call = sim.call(transcript.call_sid)
    sim.run_until(lambda: any("For English" in turn.what for turn in transcript.turns), max_seconds=60)
    healthy = runtime.db
    runtime.db = Database(f"sqlite:///{tmp_path}/gone/db.sqlite3")  # the database disappears mid-call
    try:
        sim.run_until(lambda: call.is_final, max_seconds=300)
    finally:
        runtime.db.dispose()
        runtime.db = healthy
    assert "Excuses, er gaat bij ons iets mis." in transcript.system_text
    assert "Ik verbind u met een collega." in transcript.system_text
    assert "Dial" in transcript.verbs
    assert transcript.errors == []  # Twilio never had to say "an application error has occurred"


def test_waiting_caller_takes_the_callback_offered_in_the_hold_loop(
    sim: Simulator, runtime: Runtime, center: dict[str, Any], make_agent: Any
) -> None:
    for index in range(3):
        make_agent(f"Agent {index}", f"+3161111000{index}", ("technisch",), state="on_call")
    call = sim.place_inbound_call(
        "+31687654321",
        script=["mijn modem knippert rood", Reply(press="1", when_heard="liever wordt teruggebeld")],
        max_seconds=300,
    )
    assert "Toets 1 als u liever wordt teruggebeld, vandaag om" in call.system_text
    assert "Geregeld: we bellen u vandaag tussen" in call.system_text
    sim.run_until_idle()
    with runtime.db.session() as session:
        assert session.scalar(select(QueueEntry).where(QueueEntry.call_sid == call.call_sid)).state == "left"
    assert contact_of(runtime, call.call_sid).outcome == "callback_booked"


def test_requests_signed_with_another_token_are_refused(live_app: Any, clock: ManualClock, center: Any) -> None:
    impostor = Simulator(clock=clock, app_base_url=live_app.base_url, auth_token="not-the-account-token").start()
    try:
        call = impostor.place_inbound_call("+31687654321", script=["mijn modem"], max_seconds=60)
    finally:
        impostor.stop()
    assert call.requests and all(r["status"] == "403" for r in call.requests if "/twilio/" in r["url"])
    assert "Welkom" not in call.system_text


def test_long_wait_offers_a_callback_first_story_3(
    sim: Simulator, runtime: Runtime, clock: ManualClock, make_queue: Any, make_intent: Any, make_agent: Any
) -> None:
    """Story 3: an 18-minute wait; Jan is offered today 14:30–14:45, presses 1, and gets the SMS."""
    from routing.models import QueueEntry as Entry

    technisch = make_queue("technisch", default_handle_seconds=360, callback_share=0.9)
    make_intent("internet", technisch, key="1", label_nl="internet", nl=["modem knippert", "internet doet het niet"])
    make_agent("Ahmed", "+31611110002", ("technisch",), state="on_call")
    clock.set(datetime(2026, 11, 23, 14, 10, tzinfo=AMS))
    with runtime.db.session() as session:
        for n in range(2):  # two callers already waiting for the one busy agent: (2 + 1) × 6 min = 18 min
            session.add(Entry(call_sid=f"CA-waiting-{n}", queue_id=technisch.id, enqueued_at=clock.now()))
    jan = "+31687650001"
    call = sim.place_inbound_call(jan, script=["mijn modem knippert rood", Reply(press="1")], max_seconds=120)
    heard = call.system_text
    assert "De wachttijd is ongeveer 18 minuten." in heard
    assert "We kunnen u vandaag tussen 14:30 en 14:45 terugbellen." in heard
    assert "Geregeld: we bellen u vandaag tussen 14:30 en 14:45 op 0 6 8 7 6 5 0 0 0 1." in heard
    assert "Enqueue" not in call.verbs
    send_pending(runtime)  # what the SMS worker does
    texts = [m for m in sim.sent_messages() if m.to == jan]
    assert len(texts) == 1
    assert "vandaag tussen 14:30 en 14:45" in texts[0].body
    assert "1 = ok, 2 = ander tijdstip, 3 = annuleren" in texts[0].body


def test_reaching_an_agent_about_the_same_problem_closes_the_pending_callback(
    sim: Simulator, runtime: Runtime, clock: ManualClock, center: dict[str, Any], make_agent: Any, make_caller: Any
) -> None:
    """A caller with a callback booked for a problem talks to an agent about it first: no callback, one SMS."""
    from callbacks.booking import book_callback
    from callbacks.models import CallbackPromise
    from telephony.models import SmsMessage
    from terugbel.unit_of_work import unit_of_work

    ahmed = make_agent("Ahmed", "+31611110002", ("technisch",))
    sim.add_agent(ahmed.phone)
    make_caller(PIETER, "Pieter Bakker")
    with runtime.db.session() as session:
        internet_id = session.scalar(select(Intent.id).where(Intent.name == "internet"))
    with unit_of_work(runtime) as session:
        promise_id = book_callback(
            session, queue_id=center["technisch"].id, number=PIETER, language="nl", timezone="Europe/Amsterdam",
            now=clock.now(), intent_id=internet_id, notify=False,
        ).id  # fmt: skip

    call = sim.place_inbound_call(PIETER, script=["mijn internet doet het niet"], max_seconds=600)
    sim.run_until_idle()

    assert "U heeft een terugbelafspraak" in call.system_text
    assert any(c.to == ahmed.phone for c in sim.calls()), call.to_text()
    with runtime.db.session() as session:
        promise = session.get(CallbackPromise, promise_id)
        assert promise.state == "resolved"  # its own ending, not a cancellation
        assert promise.transitions[-1].cause == "resolved by another contact"
        texts = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "resolved")).all()
    assert [m.number for m in texts] == [PIETER]
    assert "we bellen u niet meer" in texts[0].body


def test_a_slot_taken_between_the_offer_and_the_key_books_the_nearest_without_asking_again(
    sim: Simulator, runtime: Runtime, clock: ManualClock, center: dict[str, Any], make_agent: Any
) -> None:
    from callbacks.booking import book_callback
    from callbacks.errors import SlotFull
    from callbacks.models import CallbackPromise, CallbackSlot

    tomorrow = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    make_agent("Ahmed", "+31611110002", ("technisch",), shifts=[(tomorrow, tomorrow + timedelta(hours=13))])
    clock.set(datetime(2026, 11, 23, 22, 15, tzinfo=AMS))
    call = sim.place_inbound_call(
        "+31687654321", script=[Reply(press="1"), Reply(press="1", after_seconds=5)], max_seconds=120, wait=False
    )
    sim.run_until(lambda: "Toets 1 om dat vast te leggen" in call.system_text, max_seconds=60)
    with runtime.db.session() as session:  # others take every place of the slot on offer meanwhile
        slot = session.scalar(select(CallbackSlot).where(CallbackSlot.starts_at == tomorrow))
        assert slot is not None and slot.booked < slot.capacity
        for n in range(slot.capacity):
            try:
                book_callback(
                    session, queue_id=center["technisch"].id, number=f"+3161234500{n}", language="nl",
                    timezone="Europe/Amsterdam", now=clock.now(), slot_id=slot.id, notify=False,
                )  # fmt: skip
            except SlotFull:
                break
        slot_id = slot.id
    sim.run_until(lambda: sim.call(call.call_sid).is_final, max_seconds=120)
    heard = call.system_text
    assert "Dat tijdstip is net vergeven. Geregeld: we bellen u morgen tussen 08:15 en 08:30" in heard
    assert call.verbs.count("Gather") == 2  # the closed line's choice and the offer: no third question
    with runtime.db.session() as session:
        mine = session.scalar(select(CallbackPromise).where(CallbackPromise.number == "+31687654321"))
        assert mine is not None and mine.state == "booked" and mine.slot_id != slot_id
