"""Flow actions rendered as TwiML by the official builders, checked on the parsed XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ivr.agent_legs import ConnectAgent
from ivr.flow_types import Action, Ask, Enqueue, Goodbye, Line, Transfer
from terugbel.settings import load_settings
from webhooks import twiml

VOICES = twiml.DEFAULT_VOICES


def render(action: Action | ConnectAgent | None, **options: Any) -> ET.Element:
    return ET.fromstring(
        twiml.render(action, url=lambda path: "https://ivr.example.nl" + path, voices=VOICES, **options)
    )


def test_ask_is_one_gather_with_a_safety_redirect() -> None:
    ask = Ask((Line("Vertel het maar.", "nl"), Line("For English, press 9.", "en")), "problem", "nl",
                   hints=("modem", "factuur"))  # fmt: skip
    root = render(ask)
    gather, redirect = list(root)
    assert gather.tag == "Gather" and redirect.tag == "Redirect"
    assert gather.get("action") == "https://ivr.example.nl/twilio/voice/gather"
    assert gather.get("hints") == "modem, factuur"
    assert [s.get("voice") for s in gather.findall("Say")] == ["Polly.Lotte", "Polly.Amy"]
    assert [s.get("language") for s in gather.findall("Say")] == ["nl-NL", "en-GB"]


def test_keys_only_ask_has_no_speech_settings() -> None:
    root = render(Ask((Line("Toets het nummer.", "nl"),), "number", "nl", speech=False, finish_on_key="#"))
    gather = root.find("Gather")
    assert gather is not None and gather.get("input") == "dtmf" and gather.get("language") is None
    assert gather.get("finishOnKey") == "#"


def test_wait_loop_gather_falls_through_on_silence() -> None:
    ask = Ask((Line("U bent nummer 1.", "nl"),), "queued", "nl", speech=False, num_digits=1,
                   act_on_silence=False)  # fmt: skip
    root = render(ask, gather_path="/twilio/voice/wait/choice", in_wait=True)
    assert [child.tag for child in root] == ["Gather"]
    assert root.find("Gather").get("actionOnEmptyResult") is None


def test_goodbye_enqueue_transfer_and_agent_dial() -> None:
    bye = render(Goodbye((Line("Tot ziens.", "nl"),)))
    assert [child.tag for child in bye] == ["Say", "Hangup"]
    queued = render(Enqueue((Line("Ik verbind u door.", "nl"),), "technisch"))
    enqueue = queued.find("Enqueue")
    assert enqueue is not None and enqueue.text == "technisch"
    assert enqueue.get("waitUrl") == "https://ivr.example.nl/twilio/voice/wait"
    assert enqueue.get("action") == "https://ivr.example.nl/twilio/voice/queue-result"
    transfer = render(Transfer((Line("Ik verbind u.", "nl"),), "+31201234567"))
    assert transfer.find("Dial").text == "+31201234567"
    agent = render(ConnectAgent(number="+31611110001", entry_id=7))
    number = agent.find("Dial/Number")
    assert number is not None and number.text == "+31611110001"
    assert number.get("url") == "https://ivr.example.nl/twilio/voice/whisper/7"
    assert agent.find("Dial").get("action") == "https://ivr.example.nl/twilio/voice/connect/7/done"


def test_whisper_asks_the_agent_for_1() -> None:
    root = ET.fromstring(twiml.whisper("Monique, factuur.", "nl", "https://x/accept", VOICES))
    gather = root.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1" and gather.get("action") == "https://x/accept"
    assert root.find("Hangup") is not None


def test_the_voices_are_the_deployments_choice_or_pollys(tmp_path: Path) -> None:
    chosen = load_settings({"TERUGBEL_DATA_DIR": str(tmp_path), "TERUGBEL_VOICE_NL": "Polly.Ruben"})
    assert twiml.voices_of(chosen) == {"nl": "Polly.Ruben", "en": "Polly.Amy"}
    assert twiml.voices_of(load_settings({"TERUGBEL_DATA_DIR": str(tmp_path)})) == twiml.DEFAULT_VOICES
