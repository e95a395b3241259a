"""Inbound calls through the simulated voice engine against a small signed TwiML app over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from twilio.twiml.voice_response import Gather, VoiceResponse

from telephony.simulator import Reply, Simulator
from telephony.simulator.callrun import APPLICATION_ERROR_MESSAGE
from telephony.simulator.testing import TwimlTestApp
from terugbel.clock import ManualClock
from terugbel.settings import SIMULATOR_AUTH_TOKEN

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CALLER = "+31612345678"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def app() -> Iterator[TwimlTestApp]:
    twiml_app = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    yield twiml_app
    twiml_app.stop()


@pytest.fixture
def sim(clock: ManualClock, app: TwimlTestApp) -> Simulator:
    return Simulator(clock=clock, app_base_url=app.base_url)


def twiml(response: VoiceResponse) -> str:
    return str(response)


def saying(*texts: str) -> str:
    response = VoiceResponse()
    for text in texts:
        response.say(text)
    return str(response)


def test_inbound_call_sends_twilios_parameters_with_a_valid_signature(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    gather = Gather(input="speech", action="/problem", language="nl-NL")
    gather.say("Waarmee kunnen we u helpen?", language="nl-NL")
    response.append(gather)
    app.route("/twilio/voice", twiml(response))
    app.route("/problem", saying("Dank u, tot ziens."))

    transcript = sim.place_inbound_call(CALLER, app_base_url=app.base_url, script=["mijn internet doet het niet"])

    first, problem = app.seen("/twilio/voice")[0], app.seen("/problem")[0]
    assert all(seen.signature_valid for seen in app.requests)
    assert first.params["CallStatus"] == "ringing"
    assert first.params["Direction"] == "inbound"
    assert first.params["From"] == first.params["Caller"] == CALLER
    assert first.params["To"] == sim.number
    assert first.params["FromCountry"] == "NL" and first.params["ApiVersion"] == "2010-04-01"
    assert first.params["CallSid"].startswith("CA") and first.params["AccountSid"] == sim.network.account_sid
    assert problem.params["SpeechResult"] == "mijn internet doet het niet"
    assert float(problem.params["Confidence"]) > 0.5
    assert problem.params["CallStatus"] == "in-progress"
    assert transcript.status == "completed"
    assert [(t.who, t.what) for t in transcript.turns] == [
        ("system", "Waarmee kunnen we u helpen?"),
        ("caller", "mijn internet doet het niet"),
        ("system", "Dank u, tot ziens."),
    ]
    assert transcript.verbs == ["Gather", "Say"]


def test_gather_defaults_timeout_5s_then_next_verb(sim: Simulator, app: TwimlTestApp, clock: ManualClock) -> None:
    response = VoiceResponse()
    response.gather().say("Druk op een toets.")
    response.say("We hebben niets gehoord.")
    app.route("/twilio/voice", twiml(response))

    transcript = sim.place_inbound_call(CALLER, script=[])  # a silent caller

    assert transcript.said_by("system") == ["Druk op een toets.", "We hebben niets gehoord."]
    gather_prompt, after = transcript.turns
    # the prompt (4 words) takes 1.6 s, then Gather waits its default 5 s
    assert (after.at - gather_prompt.at) == timedelta(seconds=1.6 + 5)
    assert len(app.seen("/twilio/voice")) == 1  # no action request without input


def test_gather_default_action_is_the_current_document(sim: Simulator, app: TwimlTestApp) -> None:
    def voice(params: dict[str, str]) -> str:
        response = VoiceResponse()
        if "Digits" in params:
            response.say(f"U koos {params['Digits']}.")
            return twiml(response)
        response.gather(num_digits=1).say("Kies een optie.")
        return twiml(response)

    app.route("/twilio/voice", voice)

    transcript = sim.place_inbound_call(CALLER, script=[Reply(press="2")])

    requests = app.seen("/twilio/voice")
    assert len(requests) == 2 and requests[1].params["Digits"] == "2"
    assert transcript.said_by("system")[-1] == "U koos 2."


def test_gather_finish_on_key_and_num_digits(sim: Simulator, app: TwimlTestApp, clock: ManualClock) -> None:
    def voice(params: dict[str, str]) -> str:
        response = VoiceResponse()
        if params["From"] == CALLER:
            response.gather(action="/digits", finish_on_key="*", input="dtmf")
        else:
            response.gather(action="/digits", num_digits=2)
        return twiml(response)

    app.route("/twilio/voice", voice)
    app.route("/digits", lambda params: twiml(VoiceResponse()))

    sim.place_inbound_call(CALLER, script=[Reply(press="123*9")])
    started = clock.now()
    sim.place_inbound_call("+31687654321", script=[Reply(press="4567")])

    first, second = app.seen("/digits")
    assert first.params["Digits"] == "123" and first.params["FinishedOnKey"] == "*"
    assert second.params["Digits"] == "45" and "FinishedOnKey" not in second.params
    # numDigits reached: submitted at once, without waiting for the 5 s timeout
    assert clock.now() - started < timedelta(seconds=5)


def test_action_on_empty_result_posts_without_input(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.gather(input="speech dtmf", action="/empty", action_on_empty_result=True, timeout=3)
    app.route("/twilio/voice", twiml(response))
    app.route("/empty", saying("Ik hoorde niets."))

    transcript = sim.place_inbound_call(CALLER, script=[])

    empty = app.seen("/empty")[0]
    assert "Digits" not in empty.params and "SpeechResult" not in empty.params
    assert transcript.said_by("system") == ["Ik hoorde niets."]


def test_replies_matched_to_what_the_caller_heard(sim: Simulator, app: TwimlTestApp) -> None:
    def voice(params: dict[str, str]) -> str:
        response = VoiceResponse()
        if params.get("Digits") == "1":
            response.gather(input="speech", action="/said").say("Vertel ons het probleem.")
        else:
            response.gather(num_digits=1).say("Voor storingen druk op 1.")
        return twiml(response)

    app.route("/twilio/voice", voice)
    app.route("/said", lambda params: saying("Genoteerd: " + params["SpeechResult"]))

    transcript = sim.place_inbound_call(CALLER, script=[
        Reply(say="geen internet", when_heard="probleem"),
        Reply(press="1", when_heard="druk op 1"),
    ])

    assert transcript.said_by("caller") == ["(presses 1)", "geen internet"]
    assert transcript.said_by("system")[-1] == "Genoteerd: geen internet"


def test_pause_say_loop_and_hangup(sim: Simulator, app: TwimlTestApp, clock: ManualClock) -> None:
    response = VoiceResponse()
    response.pause()  # default length 1 s
    response.say("Een twee", loop=2)
    response.hangup()
    response.say("never heard")
    app.route("/twilio/voice", twiml(response))

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert transcript.said_by("system") == ["Een twee (x2)"]
    assert transcript.turns[0].at == START + timedelta(seconds=1)
    assert transcript.duration_seconds == 1 + 2  # pause + 2 x 1 s of speech
    assert transcript.status == "completed"


@pytest.mark.parametrize(("reason", "status"), [(None, "no-answer"), ("busy", "busy")])
def test_reject_ends_an_unanswered_call(sim: Simulator, app: TwimlTestApp, reason: str | None, status: str) -> None:
    response = VoiceResponse()
    response.reject(reason=reason)
    app.route("/twilio/voice", twiml(response))

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert transcript.status == status
    assert sim.calls()[0].answer_time is None


def test_redirect_follows_relative_urls_with_post(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.redirect("next")
    app.route("/twilio/voice", twiml(response))
    app.route("/twilio/next", saying("Hier ben ik."))

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert app.seen("/twilio/next")[0].method == "POST"
    assert transcript.said_by("system") == ["Hier ben ik."]


def test_malformed_twiml_ends_with_12100_and_the_application_error(sim: Simulator, app: TwimlTestApp) -> None:
    app.route("/twilio/voice", "<Response><Say>kapot</Response>")

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert transcript.said_by("system") == [APPLICATION_ERROR_MESSAGE]
    assert transcript.status == "completed"
    assert [e["code"] for e in transcript.errors] == [12100]
    assert sim.calls()[0].failed_with == 12100


def test_unknown_verb_ends_with_12200(sim: Simulator, app: TwimlTestApp) -> None:
    app.route("/twilio/voice", "<Response><Speak>hallo</Speak></Response>")

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert [e["code"] for e in transcript.errors] == [12200]
    assert transcript.said_by("system") == [APPLICATION_ERROR_MESSAGE]


def test_server_error_goes_to_the_fallback_url(sim: Simulator, app: TwimlTestApp) -> None:
    app.route("/twilio/voice", lambda params: ("boom", 500))
    app.route("/fallback", saying("Even geduld, het gaat mis bij ons."))

    transcript = sim.place_inbound_call(CALLER, script=[], fallback_url=app.url("/fallback"))

    fallback = app.seen("/fallback")[0]
    assert fallback.signature_valid
    assert fallback.params["ErrorCode"] == "11200" and fallback.params["ErrorUrl"] == app.url("/twilio/voice")
    assert transcript.said_by("system") == ["Even geduld, het gaat mis bij ons."]


def test_slow_webhook_over_15_simulated_seconds_is_an_application_error(
    sim: Simulator, app: TwimlTestApp, clock: ManualClock
) -> None:
    def slow(params: dict[str, str]) -> str:
        clock.advance(seconds=16)  # the app takes 16 s of simulated time to answer
        return saying("te laat")

    app.route("/twilio/voice", slow)

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert [e["code"] for e in transcript.errors] == [11205]
    assert transcript.said_by("system") == [APPLICATION_ERROR_MESSAGE]


def test_caller_hangs_up_after_n_seconds(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.pause(length=60)
    response.say("Nog steeds hier?")
    app.route("/twilio/voice", twiml(response))

    sim.add_caller(CALLER, [], hang_up_after=20)
    transcript = sim.place_inbound_call(CALLER)

    assert transcript.duration_seconds == 20
    assert transcript.said_by("caller") == ["(hangs up)"]
    assert "Nog steeds hier?" not in transcript.system_text


def test_status_callback_for_inbound_calls(sim: Simulator, app: TwimlTestApp) -> None:
    app.route("/twilio/voice", saying("Hallo"))
    app.route("/twilio/voice/status", lambda params: ("", 204))

    sim.place_inbound_call(CALLER, script=[])

    (completed,) = app.seen("/twilio/voice/status")
    assert completed.signature_valid
    assert completed.params["CallStatus"] == "completed"
    assert completed.params["CallDuration"] == "1"
    assert completed.params["SequenceNumber"] == "0"
    assert completed.params["CallbackSource"] == "call-progress-events"
    assert completed.params["Timestamp"].endswith("+0000")


@pytest.mark.parametrize(
    ("answer", "code"),
    [(("boom", 500), 11200), (("<Response/>", 200, {"Content-Type": "text/plain"}), 12300)],
)
def test_without_fallback_errors_end_in_the_application_error(
    sim: Simulator, app: TwimlTestApp, answer: tuple, code: int
) -> None:
    app.route("/twilio/voice", lambda params: answer)

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert [e["code"] for e in transcript.errors] == [code]
    assert transcript.said_by("system") == [APPLICATION_ERROR_MESSAGE]
    assert sim.calls()[0].failed_with == code


def test_play_takes_time_and_plays_digits(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.play("https://cdn.example/welkom.mp3")
    response.play(digits="1234")
    app.route("/twilio/voice", twiml(response))

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert transcript.said_by("system") == ["(plays https://cdn.example/welkom.mp3)", "(plays tones 1234)"]
    assert transcript.duration_seconds == 5 + 2


def test_barge_in_answers_right_after_the_prompt_it_waits_for(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    gather = Gather(num_digits=1, action="/chosen")
    gather.say("Toets 1 voor internet.")
    gather.say("Toets 2 voor facturen.")
    gather.say("Toets 3 voor iets anders.")
    response.append(gather)
    app.route("/twilio/voice", twiml(response))
    app.route("/chosen", lambda params: saying(f"Gekozen: {params['Digits']}"))

    transcript = sim.place_inbound_call(CALLER, script=[Reply(press="2", when_heard="facturen")])

    assert transcript.said_by("system") == ["Toets 1 voor internet.", "Toets 2 voor facturen.", "Gekozen: 2"]


def test_script_as_one_sentence_or_a_yaml_file(sim: Simulator, app: TwimlTestApp, tmp_path: Path) -> None:
    response = VoiceResponse()
    response.gather(input="speech dtmf", action="/said")
    app.route("/twilio/voice", twiml(response))
    app.route("/said", lambda params: saying(params.get("SpeechResult") or params.get("Digits") or "-"))
    script = tmp_path / "caller.yaml"
    script.write_text('callers:\n  - number: "+31600000000"\n    replies:\n      - press: 7\n', encoding="utf-8")

    spoken = sim.place_inbound_call(CALLER, script="mijn internet doet het niet")
    pressed = sim.place_inbound_call("+31687654321", script=script)

    assert spoken.said_by("system") == ["mijn internet doet het niet"]
    assert pressed.said_by("system") == ["7"]


def test_speech_confidence_is_scriptable(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.gather(input="speech", action="/said")
    app.route("/twilio/voice", twiml(response))
    app.route("/said", lambda params: twiml(VoiceResponse()))

    sim.place_inbound_call(CALLER, script=[Reply(say="mompel mompel", confidence=0.31)])

    assert float(app.seen("/said")[0].params["Confidence"]) == pytest.approx(0.31)


def test_a_test_can_make_the_caller_hang_up_at_any_moment(
    sim: Simulator, app: TwimlTestApp, clock: ManualClock
) -> None:
    response = VoiceResponse()
    response.pause(length=300)
    app.route("/twilio/voice", twiml(response))

    transcript = sim.place_inbound_call(CALLER, script=[], wait=False)
    sim.run_for(42)
    sim.hang_up(transcript.call_sid)
    sim.run_until_idle()

    assert transcript.status == "completed" and transcript.duration_seconds == 42


def test_a_redirect_loop_ends_instead_of_hanging(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.redirect("/twilio/voice")
    app.route("/twilio/voice", twiml(response))

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert transcript.status == "completed"
    assert "loop" in str(transcript.errors[-1]["message"])
    assert transcript.said_by("system") == [APPLICATION_ERROR_MESSAGE]
