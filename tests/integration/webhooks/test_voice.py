"""The voice webhooks with the Flask test client: signed like Twilio, TwiML parsed, real DB and Redis."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from callbacks.models import CallbackPromise
from ivr.models import CallSession
from routing.models import Contact, QueueEntry
from terugbel.audit import AuditEntry
from terugbel.db import Database
from terugbel.runtime import Runtime
from tests.integration.twilio_requests import signed_post, spoken, twiml

SID = "CA" + "a" * 32
CALLER = "+31687654321"


@pytest.fixture
def center(make_queue: Any, make_intent: Any, make_agent: Any) -> dict[str, Any]:
    technisch = make_queue("technisch", default_handle_seconds=120)
    algemeen = make_queue("algemeen", default_handle_seconds=120)
    make_intent("internet", technisch, key="1", label_nl="internet", nl=["internet doet het niet", "modem"])
    for index in range(2):
        make_agent(f"Agent {index}", f"+3161111000{index}", ("technisch", "algemeen"), state="on_call")
    return {"technisch": technisch, "algemeen": algemeen}


def post(client: Any, runtime: Runtime, path: str, **params: str) -> Any:
    return signed_post(client, runtime.settings.twilio_auth_token, path, {"CallSid": SID, "From": CALLER, **params})


def test_first_prompt_is_one_gather_with_speech_settings(client: Any, runtime: Runtime, center: Any) -> None:
    root = twiml(post(client, runtime, "/twilio/voice"))
    gathers = root.findall("Gather")
    assert len(gathers) == 1
    gather = gathers[0]
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "nl-NL"
    assert gather.get("speechModel") == "phone_call"
    assert gather.get("speechTimeout") == "2"  # a number: "auto" is refused with a speechModel
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("action", "").endswith("/twilio/voice/gather")
    assert "modem" in gather.get("hints", "")
    says = gather.findall("Say")
    assert says[-1].get("language") == "en-GB" and says[-1].text == "For English, press 9."
    assert says[0].get("voice") == "Polly.Lotte"


def test_twilio_retrying_the_first_request_changes_nothing_twice(client: Any, runtime: Runtime, center: Any) -> None:
    twiml(post(client, runtime, "/twilio/voice"))
    twiml(post(client, runtime, "/twilio/voice"))
    with runtime.db.session() as session:
        assert len(session.scalars(select(Contact)).all()) == 1
        assert len(session.scalars(select(CallSession)).all()) == 1


def test_problem_by_key_enqueues_with_priority_and_wait_url(client: Any, runtime: Runtime, center: Any) -> None:
    twiml(post(client, runtime, "/twilio/voice"))
    root = twiml(post(client, runtime, "/twilio/voice/gather", Digits="1"))
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "technisch"
    assert enqueue.get("waitUrl", "").endswith("/twilio/voice/wait")
    assert "De wachttijd is ongeveer" in spoken(root) or "direct een medewerker" in spoken(root)
    with runtime.db.session() as session:
        entry = session.scalar(select(QueueEntry).where(QueueEntry.call_sid == SID))
        assert entry is not None and entry.state == "waiting" and entry.queue_id == center["technisch"].id
    wait = twiml(post(client, runtime, "/twilio/voice/wait", QueuePosition="1", QueueTime="10"))
    gather = wait.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1" and gather.get("actionOnEmptyResult") is None
    assert "U bent nummer 1 in de rij." in spoken(wait)
    assert "Toets 1 als u liever wordt teruggebeld, vandaag om" in spoken(wait)
    other_key = twiml(post(client, runtime, "/twilio/voice/wait/choice", Digits="7"))
    assert list(other_key) == []  # keeps waiting: only wait-context verbs, here none at all
    booked = twiml(post(client, runtime, "/twilio/voice/wait/choice", Digits="1"))
    assert "Geregeld: we bellen u vandaag tussen" in spoken(booked)
    assert booked.find("Hangup") is not None
    with runtime.db.session() as session:
        assert session.scalar(select(QueueEntry).where(QueueEntry.call_sid == SID)).state == "left"
        assert session.scalars(select(CallbackPromise)).one().number == CALLER


def test_status_callback_completes_the_contact_once(client: Any, runtime: Runtime, clock: Any, center: Any) -> None:
    twiml(post(client, runtime, "/twilio/voice"))
    twiml(post(client, runtime, "/twilio/voice/gather", Digits="1"))
    clock.advance(seconds=90)
    done = post(client, runtime, "/twilio/voice/status", CallStatus="completed", CallDuration="95", SequenceNumber="3")
    twiml(done)
    with runtime.db.session() as session:
        contact = session.scalars(select(Contact)).one()
        first_end = contact.ended_at
        assert first_end is not None
        assert contact.outcome == "abandoned"
        assert contact.path[:2] == ["problem", "key:1"] and contact.questions_asked == 1
        assert contact.routed_at is not None
        assert (first_end - contact.started_at).total_seconds() == 95
        assert session.scalar(select(QueueEntry)).state == "left"
    clock.advance(seconds=30)
    twiml(post(client, runtime, "/twilio/voice/status", CallStatus="completed", CallDuration="200", SequenceNumber="3"))
    twiml(post(client, runtime, "/twilio/voice/status", CallStatus="ringing", SequenceNumber="1"))
    with runtime.db.session() as session:
        contact = session.scalars(select(Contact)).one()
        assert contact.ended_at == first_end and contact.outcome == "abandoned"
        assert session.scalars(select(CallSession)).one().last_status_sequence == 3


def test_status_for_an_unknown_call_is_accepted(client: Any, runtime: Runtime) -> None:
    twiml(post(client, runtime, "/twilio/voice/status", CallStatus="completed"))


def test_database_down_mid_call_still_gives_valid_twiml(
    client: Any, runtime: Runtime, center: Any, tmp_path: Any
) -> None:
    twiml(post(client, runtime, "/twilio/voice"))
    healthy = runtime.db
    runtime.db = Database(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    try:
        root = twiml(post(client, runtime, "/twilio/voice/gather", SpeechResult="mijn modem knippert"))
        assert "Excuses, er gaat bij ons iets mis." in spoken(root)
        assert "Bel ons gerust opnieuw om" in spoken(root)
        assert root.find("Hangup") is not None
        runtime.settings = runtime.settings.with_overrides(overflow_number="+31201234567")
        root = twiml(post(client, runtime, "/twilio/voice/gather", Digits="1"))
        assert root.find("Dial") is not None and root.find("Dial").text == "+31201234567"
        root = twiml(post(client, runtime, "/twilio/voice"))
        assert root.find("Dial") is not None
    finally:
        runtime.db.dispose()
        runtime.db = healthy


def test_a_text_that_fails_inside_is_answered_never_silence(client: Any, runtime: Runtime, tmp_path: Any) -> None:
    healthy = runtime.db
    runtime.db = Database(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    try:
        answers = {"+31600000001": "Excuses, uw antwoord kwam even niet door", "+447911123456": "Sorry, your reply"}
        for sender, expected in answers.items():
            params = {"MessageSid": "SM" + "c" * 32, "From": sender, "To": "+3197010000000", "Body": "3"}
            answer = twiml_message(signed_post(client, runtime.settings.twilio_auth_token, "/twilio/sms", params))
            assert answer.startswith(expected)
    finally:
        runtime.db.dispose()
        runtime.db = healthy


def test_fallback_url_apologises_with_a_way_forward(client: Any, runtime: Runtime) -> None:
    root = twiml(post(client, runtime, "/twilio/voice/fallback", ErrorCode="11200", ErrorUrl="http://x/twilio/voice"))
    assert "Excuses" in spoken(root) and root.find("Hangup") is not None


def test_english_number_hears_english(client: Any, runtime: Runtime, center: Any) -> None:
    root = twiml(
        signed_post(
            client, runtime.settings.twilio_auth_token, "/twilio/voice", {"CallSid": SID, "From": "+447911123456"}
        )
    )
    assert root.find("Gather").get("language") == "en-GB"
    assert "In a few words, what is your call about?" in spoken(root)


def test_withheld_number_is_an_anonymous_caller(client: Any, runtime: Runtime, center: Any) -> None:
    root = twiml(
        signed_post(client, runtime.settings.twilio_auth_token, "/twilio/voice", {"CallSid": SID, "From": "anonymous"})
    )
    assert "Welkom bij Terugbel." in spoken(root)
    with runtime.db.session() as session:
        assert session.scalars(select(CallSession)).one().number is None


def test_connect_without_an_agent_waits_again_and_missed_agent_requeues(
    client: Any, runtime: Runtime, center: Any
) -> None:
    twiml(post(client, runtime, "/twilio/voice"))
    twiml(post(client, runtime, "/twilio/voice/gather", Digits="1"))
    with runtime.db.session() as session:
        entry_id = session.scalar(select(QueueEntry.id))
    root = twiml(post(client, runtime, f"/twilio/voice/connect/{entry_id}"))
    assert root.find("Enqueue") is not None
    root = twiml(post(client, runtime, f"/twilio/voice/connect/{entry_id}/done", DialCallStatus="no-answer"))
    assert root.find("Enqueue") is not None and "Uw collega kon net niet opnemen." in spoken(root)
    assert post(client, runtime, "/twilio/voice/connect/999999").status_code == 404


def test_sms_reply_from_unknown_sender_gets_help_once(client: Any, runtime: Runtime) -> None:
    from telephony.models import SmsMessage

    params = {"MessageSid": "SM" + "b" * 32, "From": "+31600000001", "To": "+3197010000000", "Body": "1"}
    first = twiml_message(signed_post(client, runtime.settings.twilio_auth_token, "/twilio/sms", params))
    again = twiml_message(signed_post(client, runtime.settings.twilio_auth_token, "/twilio/sms", params))
    assert first == again and "geen terugbelafspraak" in first
    with runtime.db.session() as session:
        inbound = session.scalars(select(SmsMessage).where(SmsMessage.direction == "inbound")).all()
        assert len(inbound) == 1


def twiml_message(response: Any) -> str:
    root = twiml(response)
    return " ".join(m.text or "" for m in root.iter("Message"))


def test_intents_api_names_the_wrong_field(client: Any, api_token: Any, center: Any) -> None:
    headers = api_token("supervisor")
    bad = client.post("/api/intents", json={"name": "opzeggen", "label_nl": "opzeggen", "label_en": "cancel",
                                             "queue": "retentei", "key": "1"}, headers=headers)  # fmt: skip
    assert bad.status_code == 422
    errors = bad.json["errors"]["json"]
    assert "no queue named 'retentei'" in errors["queue"][0]
    assert "already used by 'internet'" in errors["key"][0]
    good = client.post("/api/intents", json={"name": "opzeggen", "label_nl": "opzeggen", "label_en": "cancel",
                                              "queue": "algemeen", "key": "3", "phrases_nl": ["opzeggen"]},
                       headers=headers)  # fmt: skip
    assert good.status_code == 201, good.json
    intent_id = good.json["id"]
    changed = client.patch(
        f"/api/intents/{intent_id}", json={"phrases_en": ["cancel my subscription"]}, headers=headers
    )
    assert changed.status_code == 200 and changed.json["phrases_en"] == ["cancel my subscription"]
    assert [i["name"] for i in client.get("/api/intents", headers=headers).json] == ["internet", "opzeggen"]
    assert client.delete(f"/api/intents/{intent_id}", headers=headers).status_code == 204
    assert client.get(f"/api/intents/{intent_id}", headers=headers).status_code == 404
    assert client.get("/api/intents", headers=api_token("agent")).status_code == 403


def test_intent_changes_are_audited(client: Any, runtime: Runtime, api_token: Any, center: Any) -> None:
    headers = api_token("supervisor")
    client.post("/api/intents", json={"name": "tv", "label_nl": "tv", "label_en": "tv", "queue": "technisch"},
                headers=headers)  # fmt: skip
    with runtime.db.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert "intent.create" in actions


def test_incident_needs_a_match_rule_and_valid_prefixes(client: Any, api_token: Any) -> None:
    headers = api_token("supervisor")
    base = {"title": "Storing", "message_nl": "Storing.", "message_en": "Outage."}
    none = client.post("/api/incidents", json=base, headers=headers)
    assert none.status_code == 422 and "match_all" in none.json["errors"]["json"]
    bad = client.post("/api/incidents", json={**base, "match_prefixes": ["0612"]}, headers=headers)
    assert bad.status_code == 422 and "match_prefixes" in bad.json["errors"]["json"]
    ok = client.post("/api/incidents", json={**base, "match_all": True}, headers=headers)
    assert ok.status_code == 201 and ok.json["state"] == "active"
    assert [i["id"] for i in client.get("/api/incidents?state=active", headers=headers).json] == [ok.json["id"]]
    assert client.post("/api/incidents/999/resolve", headers=headers).status_code == 404


def test_fallback_mid_call_books_a_concrete_callback(client: Any, runtime: Runtime, center: Any) -> None:
    """Twilio's Fallback URL after our primary answer failed: no overflow line, so a callback at a concrete time."""
    twiml(post(client, runtime, "/twilio/voice"))
    root = twiml(post(client, runtime, "/twilio/voice/fallback", ErrorCode="11200"))
    said = spoken(root)
    assert "Excuses, er gaat bij ons iets mis." in said
    assert "We bellen u vandaag tussen" in said and "U krijgt daarover een sms." in said
    with runtime.db.session() as session:
        promise = session.scalars(select(CallbackPromise)).one()
        assert promise.number == CALLER and promise.state == "booked"
        assert session.scalars(select(Contact)).one().outcome == "callback_booked"
    again = spoken(twiml(post(client, runtime, "/twilio/voice/fallback", ErrorCode="11200")))
    assert "We bellen u vandaag tussen" in again
    with runtime.db.session() as session:
        assert len(session.scalars(select(CallbackPromise)).all()) == 1


def test_fallback_answers_in_time_while_the_database_hangs(client: Any, runtime: Runtime, center: Any) -> None:
    """A database that does not answer (here: a table locked by another connection) must not hang the apology."""
    import time
    from concurrent.futures import wait

    from sqlalchemy import text

    from webhooks.voice import PENDING_LOOKUPS

    twiml(post(client, runtime, "/twilio/voice"))
    blocker = runtime.db.engine.connect()
    transaction = blocker.begin()  # SQLite: BEGIN IMMEDIATE holds the write lock every transaction needs
    if not runtime.db.is_sqlite:
        blocker.execute(text("LOCK TABLE call_sessions IN ACCESS EXCLUSIVE MODE"))
    try:
        started = time.monotonic()
        root = twiml(post(client, runtime, "/twilio/voice/fallback", ErrorCode="11205"))
        assert time.monotonic() - started < 10  # Twilio waits 15 s at most
    finally:
        transaction.rollback()
        blocker.close()
    said = spoken(root)
    assert "Excuses, er gaat bij ons iets mis." in said and "Bel ons gerust opnieuw om" in said
    wait(list(PENDING_LOOKUPS), timeout=30)  # the abandoned lookups run on once the lock is gone
    with runtime.db.session() as session:
        assert session.scalars(select(CallbackPromise)).all() == []  # no callback booked behind the caller's back
