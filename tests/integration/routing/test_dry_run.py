"""Dry runs: live rules or a draft, recording nothing, the intent taken from words as a live call takes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ivr.models import CallSession
from routing.config import center_config
from routing.dry_run import dry_run
from routing.models import Contact
from routing.route import classify_intent
from routing.rules import InvalidRuleSet
from terugbel.clock import ManualClock
from terugbel.db import Database
from terugbel.runtime import Runtime
from tests.integration.routing.fixtures import RETENTIE_RULE
from tests.integration.twilio_requests import signed_post, spoken, twiml

CALLER = "+31687654321"
PHRASES = [
    "mijn modem knippert",  # a phrase heard whole: sure
    "ik heb een vraag over mijn rekening",
    "mijn internet",  # half the keywords of a phrase: the call asks to confirm
    "de factuur",
    "ik wil een taart bakken",  # nothing matches
    "internet factuur",  # two candidates, no clear lead
]


@pytest.fixture
def menu(make_queue: Any, make_intent: Any, make_agent: Any) -> dict[str, Any]:
    technisch = make_queue("technisch")
    facturen = make_queue("facturen")
    make_queue("algemeen")
    make_intent("internet", technisch, key="1", label_nl="internet", nl=["internet doet het niet", "modem"])
    make_intent("factuur", facturen, key="2", label_nl="facturen", nl=["factuur klopt niet", "rekening"])
    for index in range(2):
        make_agent(f"Agent {index}", f"+3161111000{index}", ("technisch", "facturen", "algemeen"), state="on_call")
    return {"technisch": technisch, "facturen": facturen}


def live_call_intent(client: Any, runtime: Runtime, call_sid: str, words: str) -> tuple[str | None, bool]:
    """What a real call makes of the words: the intent it routes by or asks to confirm, and whether it asks."""

    def post(path: str, **params: str) -> Any:
        params = {"CallSid": call_sid, "From": CALLER, **params}
        return signed_post(client, runtime.settings.twilio_auth_token, path, params)

    twiml(post("/twilio/voice"))
    answer = twiml(post("/twilio/voice/gather", SpeechResult=words))
    with runtime.db.session() as session:
        call = session.scalar(select(CallSession).where(CallSession.call_sid == call_sid))
        assert call is not None
        if call.step == "confirm":
            assert "Ik heb begrepen:" in spoken(answer)
            return call.data["flow"]["candidate"], True
        contact = session.get(Contact, call.contact_id)
        intents = center_config(session).intents_by_id
        intent = intents.get(contact.intent_id) if contact is not None and contact.intent_id is not None else None
        return (intent.name if intent is not None else None), False


def test_the_dry_run_takes_the_intent_a_live_call_takes(
    client: Any, runtime: Runtime, clock: ManualClock, menu: dict[str, Any]
) -> None:
    heard = []
    for index, words in enumerate(PHRASES):
        live = live_call_intent(client, runtime, f"CA{index:032d}", words)
        with runtime.db.session() as session:
            dry = dry_run(session, number=None, words=words, at=clock.now())
            classified = classify_intent(session, words, "nl")
        assert (dry.intent, dry.confirm_first) == live, words
        assert (classified.intent.name if classified.intent else None, classified.confirm_first) == live, words
        heard.append(live)
    # The phrases cover every case: sure, asked to confirm, and nothing heard.
    assert {confirm for intent, confirm in heard if intent is not None} == {True, False}
    assert (None, False) in heard


def test_a_dry_run_of_unsure_words_says_the_call_asks_first(
    db: Database, clock: ManualClock, menu: dict[str, Any]
) -> None:
    with db.session() as session:
        unsure = dry_run(session, number=None, words="mijn internet", at=clock.now())
        sure = dry_run(session, number=None, words="mijn modem knippert", at=clock.now())
    assert (unsure.intent, unsure.confirm_first, unsure.decision.queue_name) == ("internet", True, "technisch")
    assert "a call first asks the caller to confirm it" in unsure.decision.explanation
    assert (sure.intent, sure.confirm_first, sure.decision.queue_name) == ("internet", False, "technisch")
    assert "confirm" not in sure.decision.explanation


def test_dry_run_against_live_and_draft(db: Database, clock: ManualClock, center: dict[str, Any]) -> None:
    with db.session() as session:
        live = dry_run(session, number="06 8765 4321", words="ik wil mijn abonnement opzeggen", at=clock.now())
        assert live.intent == "opzeggen" and live.caller_known and live.rule_set_version is None
        assert live.decision.queue_name == "facturen"
        draft = dry_run(
            session,
            number="+31687654321",
            words="ik wil mijn abonnement opzeggen",
            at=clock.now(),
            rules=[RETENTIE_RULE],
        )
        assert draft.decision.explanation.startswith("→ retentie (rule 'Opzeggers naar retentie')")
        with pytest.raises(InvalidRuleSet):
            dry_run(session, number=None, intent_name="opzeggen", at=clock.now(), rules=[{"name": "x"}])
        # At night every queue is closed: a callback is offered.
        night = dry_run(session, number=None, intent_name="internet", at=clock.now() + timedelta(hours=13))
        assert not night.decision.queue_open and night.decision.offer_callback_first
        assert not night.caller_known
    with db.session() as session:
        assert session.scalars(select(Contact)).all() == []
