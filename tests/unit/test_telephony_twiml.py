"""Strict TwiML parsing against the installed twilio library's verbs, nouns and attributes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from telephony.simulator.twiml import (
    DOCUMENT_PARSE_FAILURE,
    SCHEMA_VALIDATION,
    TwimlError,
    parse_voice_twiml,
    voice_schema,
)


def test_everything_the_twilio_builders_make_parses() -> None:
    response = VoiceResponse()
    gather = Gather(
        input="speech dtmf",
        action="/next",
        timeout=3,
        num_digits=1,
        finish_on_key="*",
        action_on_empty_result=True,
        language="nl-NL",
        hints="internet, tv",
        speech_model="phone_call",
        speech_timeout="auto",
    )
    gather.say("Wat is uw probleem?", language="nl-NL", voice="Polly.Lotte")
    response.append(gather)
    dial = Dial(action="/dialed", timeout=20, caller_id="+3197010000000")
    dial.number("+31611110001", url="/whisper", machine_detection="Enable")
    dial.client("agent-1")
    response.append(dial)
    response.enqueue("technisch", wait_url="/hold", action="/left")
    response.record(max_length=30, play_beep=True)
    response.sms("Bevestiging", to="+31612345678")
    response.redirect("/again")

    root = parse_voice_twiml(str(response))

    assert [child.name for child in root.children] == ["Gather", "Dial", "Enqueue", "Record", "Sms", "Redirect"]
    assert root.children[0].get("actionOnEmptyResult") == "true"
    assert root.children[1].children[0].text == "+31611110001"
    assert root.children[1].children[0].get("url") == "/whisper"


def test_malformed_xml_is_error_12100() -> None:
    with pytest.raises(TwimlError) as caught:
        parse_voice_twiml("<Response><Say>unclosed</Response>")
    assert caught.value.code == DOCUMENT_PARSE_FAILURE == 12100


@pytest.mark.parametrize(
    "document",
    [
        "<Response><Speak>hallo</Speak></Response>",  # unknown verb
        '<Response><Say colour="red">hallo</Say></Response>',  # unknown attribute
        '<Response><Gather numdigits="1"/></Response>',  # attributes are case-sensitive
        "<Response><Gather><Dial>+31611110001</Dial></Gather></Response>",  # Dial cannot nest in Gather
        "<Reply><Say>hallo</Say></Reply>",  # wrong root
    ],
)
def test_unknown_elements_and_attributes_are_error_12200(document: str) -> None:
    with pytest.raises(TwimlError) as caught:
        parse_voice_twiml(document)
    assert caught.value.code == SCHEMA_VALIDATION == 12200


def test_schema_comes_from_the_library() -> None:
    schema = voice_schema()
    assert {"timeout", "numDigits", "finishOnKey", "actionOnEmptyResult", "input"} <= schema["Gather"].attributes
    assert {"Number", "Client", "Conference", "Queue"} <= set(schema["Dial"].children)
    assert "url" in schema["Number"].attributes and "machineDetection" in schema["Number"].attributes
    assert "message" not in schema["Say"].attributes  # the spoken text is content, not an attribute


def test_say_collects_words_inside_ssml() -> None:
    root = parse_voice_twiml("<Response><Say>Goedemorgen <emphasis>Pieter</emphasis>, welkom</Say></Response>")
    assert root.children[0].spoken_text == "Goedemorgen Pieter, welkom"


@given(st.text(max_size=200))
def test_parser_never_raises_anything_but_twiml_errors(text: str) -> None:
    try:
        parse_voice_twiml(text)
    except TwimlError as exc:
        assert exc.code in {DOCUMENT_PARSE_FAILURE, SCHEMA_VALIDATION}
