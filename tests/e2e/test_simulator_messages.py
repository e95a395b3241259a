"""Text messages: inbound SMS to the app signed like Twilio, outbound status callbacks, <Sms>, <Record>."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from telephony.simulator import Reply, Simulator
from telephony.simulator.testing import TwimlTestApp
from telephony.twilio_adapter import RebasedHttpClient
from terugbel.clock import ManualClock
from terugbel.settings import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, SIMULATOR_FROM_NUMBER

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CALLER = "+31612345678"


@pytest.fixture
def app() -> Iterator[TwimlTestApp]:
    twiml_app = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    yield twiml_app
    twiml_app.stop()


@pytest.fixture
def sim(app: TwimlTestApp) -> Iterator[Simulator]:
    simulator = Simulator(clock=ManualClock(START), app_base_url=app.base_url).start()
    yield simulator
    simulator.stop()


def test_inbound_sms_is_a_signed_post_with_twilios_parameters(sim: Simulator, app: TwimlTestApp) -> None:
    reply = MessagingResponse()
    reply.message("Uw afspraak is verzet naar 14:30.")
    app.route("/twilio/sms", str(reply))

    message = sim.send_inbound_sms(CALLER, body="Kan het om half drie?")

    (seen,) = app.seen("/twilio/sms")
    assert seen.signature_valid
    assert seen.params["MessageSid"] == seen.params["SmsSid"] == message.sid and message.sid.startswith("SM")
    assert seen.params["AccountSid"] == SIMULATOR_ACCOUNT_SID
    assert seen.params["From"] == CALLER and seen.params["To"] == SIMULATOR_FROM_NUMBER
    assert seen.params["Body"] == "Kan het om half drie?"
    assert seen.params["NumSegments"] == "1" and seen.params["NumMedia"] == "0"
    assert seen.params["SmsStatus"] == "received" and seen.params["ApiVersion"] == "2010-04-01"
    assert [(m.to, m.body) for m in sim.sent_messages()] == [(CALLER, "Uw afspraak is verzet naar 14:30.")]


def test_outbound_message_status_callbacks(sim: Simulator, app: TwimlTestApp) -> None:
    app.route("/sms-status", lambda params: ("", 204))
    client = Client(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, http_client=RebasedHttpClient(sim.rest_base_url))

    sent = client.messages.create(to=CALLER, from_=SIMULATOR_FROM_NUMBER, body="Wij bellen u om 14:30",
                                  status_callback=app.url("/sms-status"))
    sim.run_until_idle()

    callbacks = app.seen("/sms-status")
    assert all(c.signature_valid for c in callbacks)
    assert [c.params["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    assert {c.params["MessageSid"] for c in callbacks} == {sent.sid}
    assert sim.sent_messages()[0].status == "delivered"


def test_stop_unsubscribes_like_twilio(sim: Simulator, app: TwimlTestApp) -> None:
    app.route("/twilio/sms", str(MessagingResponse()))
    sim.send_inbound_sms(CALLER, body="STOP")
    client = Client(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, http_client=RebasedHttpClient(sim.rest_base_url))

    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=CALLER, from_=SIMULATOR_FROM_NUMBER, body="hallo")
    assert caught.value.code == 21610


def test_sms_verb_texts_the_caller_during_a_call(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.sms("U wordt om 14:30 gebeld.")
    response.say("U krijgt een bevestiging per sms.")
    app.route("/twilio/voice", str(response))

    transcript = sim.place_inbound_call(CALLER, script=[])

    (message,) = sim.sent_messages()
    assert message.to == CALLER and message.from_ == SIMULATOR_FROM_NUMBER
    assert message.call_sid == transcript.call_sid
    assert transcript.verbs == ["Sms", "Say"]


def test_record_posts_the_recording_and_defaults_to_the_document(sim: Simulator, app: TwimlTestApp) -> None:
    def voice(params: dict[str, str]) -> str:
        response = VoiceResponse()
        if "RecordingUrl" in params:
            response.say("Bedankt voor uw bericht.")
        else:
            response.say("Spreek uw bericht in na de piep.")
            response.record(max_length=60, finish_on_key="#")
        return str(response)

    app.route("/twilio/voice", voice)

    transcript = sim.place_inbound_call(CALLER, script=[Reply(say="bel me morgen terug", press="#")])

    recorded = app.seen("/twilio/voice")[1].params
    assert recorded["RecordingUrl"].startswith("https://api.twilio.com/2010-04-01/Accounts/")
    assert recorded["RecordingSid"].startswith("RE") and recorded["Digits"] == "#"
    assert int(recorded["RecordingDuration"]) >= 1
    assert transcript.said_by("system")[-1] == "Bedankt voor uw bericht."


def test_record_with_silence_moves_on_without_an_action_request(sim: Simulator, app: TwimlTestApp) -> None:
    response = VoiceResponse()
    response.record(action="/recorded")
    response.say("Er is niets opgenomen.")
    app.route("/twilio/voice", str(response))

    transcript = sim.place_inbound_call(CALLER, script=[])

    assert not app.seen("/recorded")
    assert transcript.said_by("system")[-1] == "Er is niets opgenomen."


def test_undeliverable_text_ends_undelivered_with_its_error(sim: Simulator, app: TwimlTestApp) -> None:
    app.route("/sms-status", lambda params: ("", 204))
    sim.network.undeliverable[CALLER] = 30003
    client = Client(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, http_client=RebasedHttpClient(sim.rest_base_url))

    sent = client.messages.create(to=CALLER, from_=SIMULATOR_FROM_NUMBER, body="Wij bellen u om 14:30",
                                  status_callback=app.url("/sms-status"))
    sim.run_until_idle()

    last = app.seen("/sms-status")[-1].params
    assert (last["MessageStatus"], last["ErrorCode"]) == ("undelivered", "30003")
    fetched = client.messages.list()[0]
    assert fetched.sid == sent.sid and fetched.status == "undelivered" and fetched.error_code == 30003


def test_message_list_filters_on_to_and_from_newest_first_like_twilio(sim: Simulator) -> None:
    client = Client(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, http_client=RebasedHttpClient(sim.rest_base_url))
    other = "+31687654321"
    first = client.messages.create(to=CALLER, from_=SIMULATOR_FROM_NUMBER, body="een")
    client.messages.create(to=other, from_=SIMULATOR_FROM_NUMBER, body="twee")
    last = client.messages.create(to=CALLER, from_=SIMULATOR_FROM_NUMBER, body="drie")

    assert [m.sid for m in client.messages.list(to=CALLER)] == [last.sid, first.sid]
    assert [m.body for m in client.messages.list(from_=SIMULATOR_FROM_NUMBER, limit=2)] == ["drie", "twee"]
    assert client.messages.list(to=CALLER, from_="+3197099999999") == []
    with pytest.raises(TwilioException, match="HTTP 400"):
        client.messages.page(page_size=0)
