"""NUL characters in Twilio parameters: answered like any other text, and never stored (PostgreSQL refuses them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from routing.models import Contact
from telephony.models import SmsMessage
from terugbel.runtime import Runtime
from tests.integration.twilio_requests import signed_post, twiml


def test_an_sms_body_with_nul_characters_gets_an_answer_and_is_stored_clean(client: Any, runtime: Runtime) -> None:
    token = runtime.settings.twilio_auth_token or ""
    params = {"MessageSid": "SM" + "0" * 32, "From": "+31612345678", "To": "+3197010000000", "Body": "o\x00k\x00"}
    root = twiml(signed_post(client, token, "/twilio/sms", params))
    assert root.find("Message") is not None
    with runtime.db.session() as session:
        bodies = session.scalars(select(SmsMessage.body).where(SmsMessage.direction == "inbound")).all()
    assert bodies and all("\x00" not in body for body in bodies)


def test_speech_with_nul_characters_is_heard_as_words(
    client: Any, runtime: Runtime, make_queue: Any, make_intent: Any
) -> None:
    make_intent("internet", make_queue("technisch"), nl=["modem knippert"])
    token = runtime.settings.twilio_auth_token or ""
    call = {"CallSid": "CA" + "1" * 32, "From": "+31612345678", "To": "+3197010000000", "CallStatus": "in-progress"}
    twiml(signed_post(client, token, "/twilio/voice", call))
    heard = {**call, "SpeechResult": "mijn mo\x00dem knippert", "Confidence": "0.9"}
    root = twiml(signed_post(client, token, "/twilio/voice/gather", heard))
    assert root.find(".//Say") is not None
    with runtime.db.session() as session:
        transcript = session.scalar(select(Contact.transcript).where(Contact.call_sid == call["CallSid"]))
    assert transcript == "mijn modem knippert"
