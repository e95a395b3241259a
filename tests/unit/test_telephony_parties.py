"""Scripted parties: replies in order or matched to what was heard; declared in Python or a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from telephony.simulator.parties import Party, PartyBook, Reply, ReplyQueue, agent, caller, load_parties


def test_replies_come_in_order_unless_one_matches_what_was_heard() -> None:
    queue = ReplyQueue((Reply(say="internet"), Reply(press="1", when_heard="druk op 1"), Reply(say="ja")))

    assert queue.next_for("Voor een terugbelafspraak, druk op 1.").press == "1"
    assert queue.next_for("Wat is het probleem?").say == "internet"
    assert queue.next_for("Klopt dat?").say == "ja"
    assert queue.next_for("Nog iets?") is None


def test_matching_ignores_case() -> None:
    assert Reply(press="2", when_heard="DRUK OP 2").matches("Voor de monteur druk op 2")


def test_yaml_file_declares_callers_agents_and_callees(tmp_path: Path) -> None:
    path = tmp_path / "parties.yaml"
    path.write_text(
        """
callers:
  - number: "+31612345678"
    hang_up_after: 600
    replies:
      - say: mijn internet doet het niet
      - press: 1
        when_heard: druk op 1
agents:
  - number: "+31611110001"
    talk_seconds: 120
callees:
  - number: "+31687654321"
    answered_by: machine_end_beep
""",
        encoding="utf-8",
    )

    by_role = {party.role: party for party in load_parties(path)}
    pieter, sanne, voicemail = by_role["caller"], by_role["agent"], by_role["callee"]

    assert pieter.role == "caller" and pieter.hang_up_after == 600
    assert pieter.replies == (Reply(say="mijn internet doet het niet"), Reply(press="1", when_heard="druk op 1"))
    assert sanne.role == "agent" and sanne.whisper_key == "1" and sanne.talk_seconds == 120
    assert voicemail.is_machine and voicemail.answered_by == "machine_end_beep"


def test_json_file_works_too(tmp_path: Path) -> None:
    path = tmp_path / "parties.json"
    path.write_text(json.dumps({"callees": [{"number": "+31687654321", "busy": True}]}), encoding="utf-8")
    (busy,) = load_parties(path)
    assert busy.busy and busy.role == "callee"


def test_python_helpers() -> None:
    assert caller("+31612345678", "hallo", Reply(press="1")).replies == (Reply(say="hallo"), Reply(press="1"))
    assert agent("+31611110001").whisper_key == "1"


def test_unknown_answered_by_is_refused() -> None:
    with pytest.raises(ValueError, match="answered_by"):
        Party(number="+31612345678", answered_by="robot")


def test_undeclared_numbers_follow_the_default_party() -> None:
    book = PartyBook()
    assert book.get("+31611110009").whisper_key is None
    book.default = Party(number="", whisper_key="1", talk_seconds=90)
    someone = book.get("+31611110009", "callee")
    assert someone.number == "+31611110009" and someone.role == "callee" and someone.whisper_key == "1"


def test_machine_detection_reports_what_twilio_reports_in_each_mode() -> None:
    beep = Party(number="+31687654321", answered_by="machine_end_beep")
    greeting = Party(number="+31687654322", answered_by="machine_start")
    person = Party(number="+31687654323")
    parties = (beep, greeting, person)

    assert [p.detected_answer("Enable") for p in parties] == ["machine_start", "machine_start", "human"]
    message_end = ["machine_end_beep", "machine_end_other", "human"]
    assert [p.detected_answer("DetectMessageEnd") for p in parties] == message_end
