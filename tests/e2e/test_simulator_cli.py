"""`terugbel simulate call|sms` against a running app, and the simulator in real time."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from telephony.cli import simulate
from telephony.simulator import Simulator
from telephony.simulator.address import SimulatorAddress, write_address
from telephony.simulator.testing import TwimlTestApp
from terugbel.clock import ManualClock, SystemClock
from terugbel.settings import SIMULATOR_AUTH_TOKEN


@pytest.fixture
def app() -> Iterator[TwimlTestApp]:
    twiml_app = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    response = VoiceResponse()
    gather = Gather(input="speech", action="/problem")
    gather.say("Wat is het probleem?")
    response.append(gather)
    twiml_app.route("/twilio/voice", str(response))

    def problem(params: dict[str, str]) -> str:
        answer = VoiceResponse()
        gather = Gather(num_digits=1, action="/confirm")
        gather.say(f"U zei: {params['SpeechResult']}. Druk op 1 om teruggebeld te worden.")
        answer.append(gather)
        return str(answer)

    twiml_app.route("/problem", problem)
    confirm = VoiceResponse()
    confirm.say("We bellen u vandaag om 14:30.")
    twiml_app.route("/confirm", str(confirm))
    yield twiml_app
    twiml_app.stop()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TERUGBEL_DATA_DIR": str(tmp_path), "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}


def test_simulate_call_prints_the_transcript(app: TwimlTestApp, env: dict[str, str]) -> None:
    result = CliRunner().invoke(simulate, ["call", "--from", "+31612345678", "--say", "mijn internet doet het niet",
                                           "--press", "1", "--app", app.base_url, "--local"], env=env)

    assert result.exit_code == 0, result.output
    assert "caller [Gather] mijn internet doet het niet" in result.output
    assert "caller [Gather] (presses 1)" in result.output
    assert "system [Say] We bellen u vandaag om 14:30." in result.output
    assert "status: completed" in result.output
    assert "verbs: Gather Gather Say" in result.output


def test_simulate_call_json_with_a_script_file(app: TwimlTestApp, env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "pieter.yaml"
    script.write_text('callers:\n  - number: "+31612345678"\n    replies:\n'
                      '      - press: "1"\n        when_heard: "druk op 1"\n      - say: "storing"\n',
                      encoding="utf-8")

    result = CliRunner().invoke(simulate, ["call", "--from", "+31612345678", "--script", str(script),
                                           "--app", app.base_url, "--json", "--local"], env=env)

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "completed" and data["from"] == "+31612345678"
    assert [t["what"] for t in data["turns"] if t["who"] == "caller"] == ["storing", "(presses 1)"]


def test_simulate_call_reports_application_errors(env: dict[str, str]) -> None:
    broken = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    broken.route("/twilio/voice", "<Response><Say>oops")
    try:
        result = CliRunner().invoke(
            simulate, ["call", "--from", "+31612345678", "--app", broken.base_url, "--local"], env=env
        )
    finally:
        broken.stop()
    assert result.exit_code == 1
    assert "error 12100" in result.output


def test_simulate_sms_prints_the_replies(env: dict[str, str]) -> None:
    sms_app = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    reply = MessagingResponse()
    reply.message("Genoteerd.")
    sms_app.route("/twilio/sms", str(reply))
    try:
        result = CliRunner().invoke(simulate, ["sms", "--from", "+31612345678", "--body", "STOP",
                                               "--app", sms_app.base_url, "--local"], env=env)
    finally:
        sms_app.stop()
    assert result.exit_code == 0, result.output
    assert "reply: Genoteerd." in result.output
    assert sms_app.seen("/twilio/sms")[0].signature_valid


def test_real_time_simulator_runs_calls_in_the_background() -> None:
    twiml_app = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    response = VoiceResponse()
    response.hangup()
    twiml_app.route("/twilio/voice", str(response))
    simulator = Simulator(clock=SystemClock(), app_base_url=twiml_app.base_url).start()
    try:
        transcript = simulator.place_inbound_call("+31612345678", script=[], max_seconds=10)
    finally:
        simulator.stop()
        twiml_app.stop()
    assert transcript.status == "completed"
    assert transcript.verbs == ["Hangup"]


def test_simulate_call_runs_inside_a_running_simulator(app: TwimlTestApp, env: dict[str, str]) -> None:
    running = Simulator(clock=ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))).start()
    try:
        result = CliRunner().invoke(simulate, ["call", "--from", "+31612345678", "--say", "storing", "--press", "1",
                                               "--app", app.base_url, "--simulator", running.rest_base_url], env=env)
        calls = running.calls()
    finally:
        running.stop()
    assert result.exit_code == 0, result.output
    assert "We bellen u vandaag om 14:30." in result.output
    assert [c.from_ for c in calls] == ["+31612345678"]  # the call lived in the running simulator


def test_simulate_sms_through_a_running_simulator(env: dict[str, str]) -> None:
    sms_app = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    reply = MessagingResponse()
    reply.message("Tot straks.")
    sms_app.route("/twilio/sms", str(reply))
    running = Simulator(app_base_url=sms_app.base_url).start()
    try:
        result = CliRunner().invoke(simulate, ["sms", "--from", "+31612345678", "--body", "ok",
                                               "--simulator", running.rest_base_url, "--json"], env=env)
        sent = running.sent_messages()
    finally:
        running.stop()
        sms_app.stop()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["replies"] == ["Tot straks."]
    assert [m.body for m in sent] == ["Tot straks."]


def test_simulate_call_follows_a_real_time_call_and_its_caller_hangs_up_in_time(env: dict[str, str]) -> None:
    twiml_app = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    response = VoiceResponse()
    response.say("Een moment geduld.")
    response.pause(length=600)  # nothing more happens: only the caller's bound ends the call
    twiml_app.route("/twilio/voice", str(response))
    running = Simulator(clock=SystemClock(), app_base_url=twiml_app.base_url).start()
    try:
        result = CliRunner().invoke(simulate, ["call", "--from", "+31612345678", "--hang-up-after", "5",
                                               "--simulator", running.rest_base_url], env=env)
    finally:
        running.stop()
        twiml_app.stop()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Call CA") and lines[-1] == "status: completed"
    # Five seconds leave the app time to answer even on a busy machine; then the caller's bound ends the call.
    assert lines[1].endswith("system [Say] Een moment geduld."), result.output
    assert lines[2].endswith("caller [Hangup] (hangs up)"), result.output


def test_a_demo_that_is_gone_is_named_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{closed.getsockname()[1]}"
    write_address(tmp_path, SimulatorAddress(app_url=gone, simulator_url=gone))
    result = CliRunner().invoke(simulate, ["call", "--from", "+31612345678"], env=env)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"terugbel simulate: no simulator answers at {gone} (named in {tmp_path / 'simulator.json'}; "
        "is the demo still running?)"
    ]


def test_a_local_call_needs_an_app_that_answers(env: dict[str, str]) -> None:
    nothing = CliRunner().invoke(simulate, ["call", "--from", "+31612345678", "--local"], env=env)
    assert nothing.exit_code == 2
    assert nothing.output.startswith("terugbel simulate: no app to call: start the demo (make demo)")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{closed.getsockname()[1]}"
    silent = CliRunner().invoke(simulate, ["call", "--from", "+31612345678", "--local", "--app", gone], env=env)
    assert silent.exit_code == 2
    assert silent.output == f"terugbel simulate: no app answers at {gone} (ConnectionError)\n"


def test_simulate_call_json_from_a_running_simulator(app: TwimlTestApp, env: dict[str, str]) -> None:
    running = Simulator(clock=ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))).start()
    try:
        result = CliRunner().invoke(simulate, ["call", "--from", "+31612345678", "--say", "storing", "--press", "1",
                                               "--app", app.base_url, "--simulator", running.rest_base_url, "--json"],
                                    env=env)
    finally:
        running.stop()
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)  # only the JSON: no live lines
    assert data["status"] == "completed"
    assert [t["what"] for t in data["turns"] if t["who"] == "caller"] == ["storing", "(presses 1)"]
