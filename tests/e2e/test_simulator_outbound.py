"""Outbound calls created with the official twilio client and run by the simulated engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, VoiceResponse

from telephony.simulator import Reply, Simulator
from telephony.simulator.testing import TwimlTestApp
from telephony.twilio_adapter import RebasedHttpClient
from terugbel.clock import ManualClock
from terugbel.settings import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, SIMULATOR_FROM_NUMBER

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CALLEE = "+31612345678"
AGENT = "+31611110001"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def app() -> Iterator[TwimlTestApp]:
    twiml_app = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    yield twiml_app
    twiml_app.stop()


@pytest.fixture
def sim(clock: ManualClock, app: TwimlTestApp) -> Iterator[Simulator]:
    simulator = Simulator(clock=clock, app_base_url=app.base_url).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def client(sim: Simulator) -> Client:
    return Client(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, http_client=RebasedHttpClient(sim.rest_base_url))


def saying(*texts: str) -> str:
    response = VoiceResponse()
    for text in texts:
        response.say(text)
    return str(response)


def call(client: Client, app: TwimlTestApp, **options: Any) -> Any:
    return client.calls.create(to=options.pop("to", CALLEE), from_=SIMULATOR_FROM_NUMBER,
                               url=app.url("/outbound"), **options)


def test_outbound_call_with_sync_amd_gives_answered_by_to_the_url(
    sim: Simulator, app: TwimlTestApp, client: Client
) -> None:
    sim.add_callee(CALLEE, answered_by="machine_end_beep")
    app.route("/outbound", lambda params: saying("Dit is een bericht voor u."))
    app.route("/status", lambda params: ("", 204))

    created = call(client, app, machine_detection="DetectMessageEnd", status_callback=app.url("/status"),
                   status_callback_event=["initiated", "ringing", "answered", "completed"])
    sim.run_until_idle()

    outbound = app.seen("/outbound")[0]
    assert outbound.signature_valid
    assert outbound.params["AnsweredBy"] == "machine_end_beep"
    assert outbound.params["Direction"] == "outbound-api" and outbound.params["CallStatus"] == "in-progress"
    statuses = [(r.params["CallStatus"], r.params["SequenceNumber"]) for r in app.seen("/status")]
    assert statuses == [("initiated", "0"), ("ringing", "1"), ("in-progress", "2"), ("completed", "3")]
    completed = app.seen("/status")[-1].params
    assert completed["CallDuration"] == str(sim.call(created.sid).duration_seconds)
    assert completed["AnsweredBy"] == "machine_end_beep"
    assert client.calls(created.sid).fetch().status == "completed"
    assert client.calls(created.sid).fetch().answered_by == "machine_end_beep"


@pytest.mark.parametrize(("kind", "mode", "expected"), [
    ("human", "Enable", "human"),
    ("machine_end_silence", "Enable", "machine_start"),
    ("machine_start", "DetectMessageEnd", "machine_end_other"),
    ("fax", "DetectMessageEnd", "fax"),
    ("unknown", "Enable", "unknown"),
])
def test_async_amd_reports_answered_by_to_its_callback(
    sim: Simulator, app: TwimlTestApp, client: Client, kind: str, mode: str, expected: str
) -> None:
    sim.add_callee(CALLEE, answered_by=kind)
    response = VoiceResponse()
    response.pause(length=30)
    app.route("/outbound", str(response))
    app.route("/amd", lambda params: ("", 204))

    call(client, app, machine_detection=mode, async_amd="true", async_amd_status_callback=app.url("/amd"))
    sim.run_until_idle()

    assert "AnsweredBy" not in app.seen("/outbound")[0].params  # async: the TwiML runs at once
    amd = app.seen("/amd")[0]
    assert amd.signature_valid
    assert amd.params["AnsweredBy"] == expected
    assert int(amd.params["MachineDetectionDuration"]) > 0


def test_unanswered_and_busy_calls(sim: Simulator, app: TwimlTestApp, client: Client, clock: ManualClock) -> None:
    sim.add_callee(CALLEE, answers=False)
    sim.add_callee("+31687654321", busy=True)
    app.route("/status", lambda params: ("", 204))

    silent = call(client, app, timeout=20, status_callback=app.url("/status"))
    busy = call(client, app, to="+31687654321", status_callback=app.url("/status"))
    sim.run_until_idle()

    assert sim.call(silent.sid).status == "no-answer"
    assert sim.call(silent.sid).end_time == START + timedelta(seconds=20)
    assert sim.call(busy.sid).status == "busy"
    assert [r.params["CallStatus"] for r in app.seen("/status")] == ["busy", "no-answer"]
    assert not app.seen("/outbound")


def test_calls_above_cps_start_later_on_the_clock(sim: Simulator, app: TwimlTestApp, client: Client) -> None:
    app.route("/outbound", saying("Hallo"))
    sids = [call(client, app).sid for _ in range(3)]
    assert all(client.calls(sid).fetch().status == "queued" for sid in sids)

    sim.run_until_idle()

    starts = [sim.call(sid).start_time for sid in sids]
    assert [(s - START).total_seconds() for s in starts if s is not None] == [0.0, 1.0, 2.0]
    assert [sim.call(sid).queue_time_seconds for sid in sids] == [0, 1, 2]


@pytest.mark.parametrize("mode", ["duplicate", "reversed"])
def test_status_callbacks_duplicated_or_out_of_order(
    sim: Simulator, app: TwimlTestApp, client: Client, mode: str
) -> None:
    sim.status_callback_delivery = mode
    app.route("/outbound", saying("Hallo"))
    app.route("/status", lambda params: ("", 204))

    call(client, app, status_callback=app.url("/status"), status_callback_event=["initiated", "completed"])
    sim.run_until_idle()

    sequence = [r.params["SequenceNumber"] for r in app.seen("/status")]
    assert sequence == (["0", "0", "1", "1"] if mode == "duplicate" else ["1", "0"])


def test_api_redirect_and_hangup_of_a_live_call(sim: Simulator, app: TwimlTestApp, client: Client) -> None:
    def answered(params: dict[str, str]) -> tuple[str, int]:
        # The app steers the live call from its status callback, as the product's dispatcher does.
        client.calls(params["CallSid"]).update(url=app.url("/moved"), method="POST")
        return "", 204

    hold = VoiceResponse()
    hold.pause(length=600)
    app.route("/outbound", str(hold))
    app.route("/status", answered)
    app.route("/moved", lambda params: saying("U bent doorverbonden."))

    created = call(client, app, status_callback=app.url("/status"), status_callback_event=["answered"])
    sim.run_until_idle()

    assert sim.transcript(created.sid).said_by("system") == ["U bent doorverbonden."]
    duration = sim.call(created.sid).duration_seconds
    assert duration is not None and duration < 600

    app.route("/status", lambda params: (client.calls(params["CallSid"]).update(status="completed"), ("", 204))[1])
    ended = call(client, app, status_callback=app.url("/status"), status_callback_event=["answered"])
    sim.run_until_idle()
    assert sim.call(ended.sid).status == "completed" and sim.call(ended.sid).duration_seconds == 0


def test_dial_timeout_defaults_to_30_seconds(sim: Simulator, app: TwimlTestApp, clock: ManualClock) -> None:
    sim.add_callee(AGENT, answers=False)
    response = VoiceResponse()
    response.dial(AGENT, action="/dialed")
    app.route("/twilio/voice", str(response))
    app.route("/dialed", lambda params: saying("Niemand nam op."))

    transcript = sim.place_inbound_call(CALLEE, script=[])

    dialed = app.seen("/dialed")[0].params
    assert dialed["DialCallStatus"] == "no-answer" and dialed["DialBridged"] == "false"
    assert transcript.turns[-1].at - START == timedelta(seconds=30)


def test_dial_number_with_whisper_the_agent_accepts(sim: Simulator, app: TwimlTestApp) -> None:
    sim.add_agent(AGENT, talk_seconds=90, greeting="Met Sanne, waarmee kan ik helpen?")
    response = VoiceResponse()
    dial = Dial(action="/dialed", timeout=20)
    dial.number(AGENT, url="/whisper")
    response.append(dial)
    app.route("/twilio/voice", str(response))

    def whisper(params: dict[str, str]) -> str:
        answer = VoiceResponse()
        if params.get("Digits") == "1":
            return str(answer)  # an empty document: the bridge goes ahead
        answer.gather(num_digits=1).say("Beller over internet. Druk op 1 om aan te nemen.")
        answer.hangup()
        return str(answer)

    app.route("/whisper", whisper)
    app.route("/dialed", lambda params: saying("Bedankt voor uw gesprek."))

    transcript = sim.place_inbound_call(CALLEE, script=[])

    whisper_requests = app.seen("/whisper")
    assert whisper_requests[0].params["To"] == AGENT and whisper_requests[0].params["Direction"] == "outbound-dial"
    assert whisper_requests[0].params["ParentCallSid"] == transcript.call_sid
    assert whisper_requests[1].params["Digits"] == "1"
    dialed = app.seen("/dialed")[0].params
    assert dialed["DialCallStatus"] == "completed" and dialed["DialBridged"] == "true"
    assert dialed["DialCallSid"].startswith("CA") and dialed["DialCallDuration"] == "90"
    assert "Met Sanne, waarmee kan ik helpen?" in transcript.said_by("agent")
    assert transcript.said_by("system")[-1] == "Bedankt voor uw gesprek."


def test_whisper_refused_is_no_answer(sim: Simulator, app: TwimlTestApp) -> None:
    sim.add_agent(AGENT, whisper_key=None)  # the agent never presses a key
    response = VoiceResponse()
    dial = Dial(action="/dialed")
    dial.number(AGENT, url="/whisper")
    response.append(dial)
    app.route("/twilio/voice", str(response))
    whisper = VoiceResponse()
    whisper.gather(num_digits=1).say("Druk op 1.")
    whisper.hangup()
    app.route("/whisper", str(whisper))
    app.route("/dialed", lambda params: saying("Geen agent beschikbaar."))

    sim.place_inbound_call(CALLEE, script=[])

    assert app.seen("/dialed")[0].params["DialCallStatus"] == "no-answer"


def test_enqueue_wait_url_and_an_agent_dequeues(
    sim: Simulator, app: TwimlTestApp, client: Client, clock: ManualClock
) -> None:
    sim.add_agent(AGENT, talk_seconds=120)
    response = VoiceResponse()
    response.enqueue("technisch", wait_url="/hold", action="/left")
    app.route("/twilio/voice", str(response))

    def hold(params: dict[str, str]) -> str:
        if params["QueueTime"] == "0":  # the first hold document calls in an agent
            client.calls.create(to=AGENT, from_=SIMULATOR_FROM_NUMBER, url=app.url("/agent"))
        answer = VoiceResponse()
        answer.say(f"U bent nummer {params['QueuePosition']}.")
        answer.pause(length=10)
        return str(answer)

    agent_twiml = VoiceResponse()
    agent_dial = Dial()
    agent_dial.queue("technisch")
    agent_twiml.append(agent_dial)
    app.route("/hold", hold)
    app.route("/agent", str(agent_twiml))
    app.route("/left", lambda params: saying("Bedankt."))

    transcript = sim.place_inbound_call(CALLEE, script=[])
    sim.run_until_idle()

    first_hold = app.seen("/hold")[0].params
    assert first_hold["QueuePosition"] == "1" and first_hold["CurrentQueueSize"] == "1"
    assert first_hold["QueueSid"].startswith("QU") and first_hold["AvgQueueTime"] == "0"
    left = app.seen("/left")[0].params
    assert left["QueueResult"] == "bridged"
    assert int(left["QueueTime"]) > 0
    assert transcript.said_by("system")[-1] == "Bedankt."
    assert transcript.status == "completed"
    agent_calls = [c for c in sim.calls() if c.to == AGENT]
    assert agent_calls[0].status == "completed"


def test_leave_in_the_wait_url_ends_the_wait_with_result_leave(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.enqueue("technisch", wait_url="/hold", action="/left")
    app.route("/twilio/voice", str(response))
    hold = VoiceResponse()
    hold.say("Wacht even.")
    hold.leave()
    app.route("/hold", str(hold))
    app.route("/left", lambda params: saying("We bellen u terug."))

    transcript = sim.place_inbound_call(CALLEE, script=[])

    assert app.seen("/left")[0].params["QueueResult"] == "leave"
    assert transcript.said_by("system") == ["Wacht even.", "We bellen u terug."]
    assert not sim.network.queue("technisch").members


def test_caller_hanging_up_in_the_queue_is_result_hangup(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.enqueue("technisch", action="/left")
    app.route("/twilio/voice", str(response))
    app.route("/left", lambda params: saying("genegeerd"))
    sim.add_caller(CALLEE, [], hang_up_after=45)

    transcript = sim.place_inbound_call(CALLEE)

    assert app.seen("/left")[0].params["QueueResult"] == "hangup"
    assert transcript.duration_seconds == 45 and "genegeerd" not in transcript.system_text


def test_conference_starts_when_the_second_participant_joins(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    dial = Dial(action="/after")
    dial.conference("incident-42", end_conference_on_exit=True, wait_url="/music")
    response.append(dial)
    app.route("/twilio/voice", str(response))
    music = VoiceResponse()
    music.play("https://example.com/music.mp3")
    app.route("/music", str(music))
    app.route("/after", lambda params: saying("Einde overleg."))

    sim.add_caller(CALLEE, [], hang_up_after=300, talk_seconds=60)
    sim.add_caller(AGENT, [], hang_up_after=300, talk_seconds=40)
    first = sim.place_inbound_call(CALLEE, wait=False)
    second = sim.place_inbound_call(AGENT, wait=False)
    sim.run_until_idle()

    assert app.seen("/music")  # the first participant waited with music
    assert [r.params["DialCallStatus"] for r in app.seen("/after")] == ["completed", "completed"]
    assert first.status == second.status == "completed"


def test_api_redirect_with_inline_twiml_and_the_time_limit(
    sim: Simulator, app: TwimlTestApp, client: Client
) -> None:
    def answered(params: dict[str, str]) -> tuple[str, int]:
        client.calls(params["CallSid"]).update(twiml=saying("Dit komt uit de API."))
        return "", 204

    hold = VoiceResponse()
    hold.pause(length=600)
    app.route("/outbound", str(hold))
    app.route("/status", answered)

    redirected = call(client, app, status_callback=app.url("/status"), status_callback_event=["answered"])
    limited = call(client, app, to="+31687654321", time_limit=120)
    sim.run_until_idle()

    assert sim.transcript(redirected.sid).said_by("system") == ["Dit komt uit de API."]
    assert sim.call(limited.sid).duration_seconds == 120


def test_dial_client_rings_a_browser_agent(sim: Simulator, app: TwimlTestApp) -> None:
    sim.add_agent("client:sanne", whisper_key=None, talk_seconds=45)
    response = VoiceResponse()
    dial = Dial(action="/dialed")
    dial.client("sanne")
    response.append(dial)
    app.route("/twilio/voice", str(response))
    app.route("/dialed", lambda params: saying("Tot ziens."))

    sim.place_inbound_call(CALLEE, script=[])

    dialed = app.seen("/dialed")[0].params
    assert dialed["DialCallStatus"] == "completed" and dialed["DialCallDuration"] == "45"
    assert sim.call(dialed["DialCallSid"]).to == "client:sanne"


def test_calls_per_second_is_configurable(clock: ManualClock, app: TwimlTestApp) -> None:
    fast = Simulator(clock=clock, calls_per_second=4).start()
    try:
        fast_client = Client(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN,
                             http_client=RebasedHttpClient(fast.rest_base_url))
        app.route("/outbound", saying("Hallo"))
        sids = [call(fast_client, app).sid for _ in range(3)]
        fast.run_until_idle()
    finally:
        fast.stop()
    starts = [fast.call(sid).start_time for sid in sids]
    assert [(s - START).total_seconds() for s in starts if s is not None] == [0.0, 0.25, 0.5]


def test_caller_hanging_up_during_a_dial_still_reaches_the_action(sim: Simulator, app: TwimlTestApp) -> None:
    sim.add_agent(AGENT, whisper_key=None, talk_seconds=300)
    sim.add_caller(CALLEE, [], hang_up_after=60)
    response = VoiceResponse()
    response.dial(AGENT, action="/dialed")
    response.say("never")
    app.route("/twilio/voice", str(response))
    app.route("/dialed", lambda params: saying("ignored"))

    transcript = sim.place_inbound_call(CALLEE)

    dialed = app.seen("/dialed")[0].params
    assert dialed["DialCallStatus"] == "completed" and dialed["DialBridged"] == "true"
    assert int(dialed["DialCallDuration"]) == 60 - 3  # the agent's phone rang 3 s
    assert transcript.duration_seconds == 60
    assert "ignored" not in transcript.system_text and "never" not in transcript.system_text


def test_dialing_an_empty_queue_waits_for_a_caller_until_the_timeout(
    sim: Simulator, app: TwimlTestApp, client: Client, clock: ManualClock
) -> None:
    sim.add_agent(AGENT, talk_seconds=30)
    agent_twiml = VoiceResponse()
    agent_dial = Dial(timeout=40, action="/agent-done")
    agent_dial.queue("technisch", url="/connecting")
    agent_twiml.append(agent_dial)
    app.route("/agent", str(agent_twiml))
    app.route("/agent-done", lambda params: str(VoiceResponse()))
    app.route("/connecting", saying("U wordt doorverbonden."))
    enqueue = VoiceResponse()
    enqueue.enqueue("technisch")
    app.route("/twilio/voice", str(enqueue))

    sim.network.queue("technisch")  # the queue exists (callers waited in it before) but is empty now
    client.calls.create(to=AGENT, from_=SIMULATOR_FROM_NUMBER, url=app.url("/agent"))
    sim.run_until_idle()
    assert app.seen("/agent-done")[0].params["DialCallStatus"] == "no-answer"  # nobody came within 40 s

    second = sim.place_inbound_call("+31687654321", script=[], wait=False)
    client.calls.create(to=AGENT, from_=SIMULATOR_FROM_NUMBER, url=app.url("/agent"))
    sim.run_until_idle()
    connecting = app.seen("/connecting")[0].params
    assert connecting["CallSid"] == second.call_sid and connecting["DequeingCallSid"].startswith("CA")
    assert "U wordt doorverbonden." in second.said_by("system")
    assert app.seen("/agent-done")[1].params["DialCallStatus"] == "completed"


def test_gather_in_the_wait_url_keeps_the_caller_in_the_queue(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.enqueue("technisch", wait_url="/hold", action="/left")
    app.route("/twilio/voice", str(response))
    hold = VoiceResponse()
    hold.gather(num_digits=1, action="/hold-choice", timeout=10).say("Druk op 1 om teruggebeld te worden.")
    app.route("/hold", str(hold))

    def choice(params: dict[str, str]) -> str:
        answer = VoiceResponse()
        answer.say(f"U bent nog steeds nummer {params.get('QueuePosition', '?')}.")
        if params.get("Digits") == "1":
            answer.say("We bellen u terug.")
            answer.leave()
        else:
            answer.dial("+31611110001")  # not allowed while waiting: Twilio refuses it
        return str(answer)

    app.route("/hold-choice", choice)
    app.route("/left", lambda params: saying("Tot ziens."))

    transcript = sim.place_inbound_call(CALLEE, script=[Reply(press="5"), Reply(press="1")])

    assert [r.params["Digits"] for r in app.seen("/hold-choice")] == ["5", "1"]
    assert app.seen("/left")[0].params["QueueResult"] == "leave"
    assert [e["code"] for e in transcript.errors] == [12200]  # the <Dial> in the wait context
    assert transcript.said_by("system")[-2:] == ["We bellen u terug.", "Tot ziens."]


def test_ending_a_bridged_call_through_the_api_ends_the_agent_leg(
    sim: Simulator, app: TwimlTestApp, client: Client
) -> None:
    sim.add_agent(AGENT, whisper_key=None, talk_seconds=600)
    response = VoiceResponse()
    response.dial(AGENT)
    app.route("/twilio/voice", str(response))

    transcript = sim.place_inbound_call(CALLEE, script=[], wait=False)
    sim.run_until(lambda: any(c.direction == "outbound-dial" for c in sim.calls()))
    client.calls(transcript.call_sid).update(status="completed")
    sim.run_until_idle()

    (agent_leg,) = [c for c in sim.calls() if c.direction == "outbound-dial"]
    assert sim.call(transcript.call_sid).status == agent_leg.status == "completed"
    assert transcript.duration_seconds is not None and transcript.duration_seconds < 600


def test_dial_number_machine_detection_tells_the_whisper_url(sim: Simulator, app: TwimlTestApp) -> None:
    sim.add_callee(AGENT, answered_by="machine_end_silence")
    response = VoiceResponse()
    dial = Dial(action="/dialed")
    dial.number(AGENT, url="/leg", machine_detection="Enable")
    response.append(dial)
    app.route("/twilio/voice", str(response))
    leg = VoiceResponse()
    leg.hangup()
    app.route("/leg", lambda params: str(leg) if params.get("AnsweredBy", "").startswith("machine") else "<Response/>")
    app.route("/dialed", lambda params: saying("Voicemail, we proberen het later."))

    transcript = sim.place_inbound_call(CALLEE, script=[])

    assert app.seen("/leg")[0].params["AnsweredBy"] == "machine_start"
    assert app.seen("/dialed")[0].params["DialCallStatus"] == "no-answer"
    assert transcript.said_by("system")[-1] == "Voicemail, we proberen het later."


def test_unreachable_number_fails(sim: Simulator, app: TwimlTestApp, client: Client) -> None:
    sim.add_callee(CALLEE, unreachable=True)
    app.route("/status", lambda params: ("", 204))

    created = call(client, app, status_callback=app.url("/status"))
    sim.run_until_idle()

    assert client.calls(created.sid).fetch().status == "failed"
    assert app.seen("/status")[0].params["CallStatus"] == "failed"
    assert not app.seen("/outbound")


def test_dialing_an_unreachable_number_reports_failed(sim: Simulator, app: TwimlTestApp) -> None:
    sim.add_callee(AGENT, unreachable=True)
    response = VoiceResponse()
    response.dial(AGENT, action="/dialed")
    app.route("/twilio/voice", str(response))
    app.route("/dialed", lambda params: saying("Dat lukte niet."))

    sim.place_inbound_call(CALLEE, script=[])

    assert app.seen("/dialed")[0].params["DialCallStatus"] == "failed"
