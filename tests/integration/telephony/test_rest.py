"""The official twilio Client against the simulated REST API: Twilio-shaped answers and refusals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from telephony.port import (
    InvalidNumberError,
    OutboundCall,
    PermanentTelephonyError,
    RetryableTelephonyError,
)
from telephony.simulator import Simulator
from telephony.simulator.openapi import SpecValidator
from telephony.twilio_adapter import RebasedHttpClient, TwilioTelephony, build_telephony
from terugbel.clock import ManualClock
from terugbel.settings import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, load_settings

SID = re.compile(r"^(CA|SM)[0-9a-f]{32}$")
CALLEE = "+31612345678"
APP = "https://app.example/twilio/outbound"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def client(sim: Simulator) -> Client:
    return Client(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, http_client=RebasedHttpClient(sim.rest_base_url))


def test_client_creates_a_call_and_gets_a_twilio_shaped_answer(client: Client) -> None:
    call = client.calls.create(to=CALLEE, from_="+3197010000000", url=APP,
                               status_callback="https://app.example/status",
                               status_callback_event=["initiated", "answered", "completed"],
                               machine_detection="DetectMessageEnd", async_amd="true")

    assert SID.match(call.sid) and call.sid.startswith("CA")
    assert call.status == "queued"
    assert call.to == CALLEE and call._from == "+3197010000000"
    assert call.direction == "outbound-api"
    assert call.api_version == "2010-04-01"
    assert call.date_created == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # parsed from RFC 2822
    assert call.uri == f"/2010-04-01/Accounts/{SIMULATOR_ACCOUNT_SID}/Calls/{call.sid}.json"


def test_client_fetches_lists_and_updates_calls(client: Client, sim: Simulator) -> None:
    created = client.calls.create(to=CALLEE, from_="+3197010000000", url=APP)

    fetched = client.calls(created.sid).fetch()
    assert fetched.sid == created.sid and fetched.status == "queued"
    assert [c.sid for c in client.calls.list(to=CALLEE)] == [created.sid]

    updated = client.calls(created.sid).update(url="https://app.example/elsewhere", method="POST")
    assert updated.sid == created.sid
    assert sim.call(created.sid).pending_update == {"url": "https://app.example/elsewhere", "method": "POST"}

    client.calls(created.sid).update(status="canceled")  # still waiting to start: canceled at once
    assert client.calls(created.sid).fetch().status == "canceled"
    sim.run_until_idle()
    assert sim.call(created.sid).transcript is None  # it never rang


def test_client_sends_a_message(client: Client, sim: Simulator) -> None:
    message = client.messages.create(to=CALLEE, from_="+3197010000000", body="Wij bellen u vandaag om 14:30")

    assert SID.match(message.sid) and message.sid.startswith("SM")
    assert message.status == "queued"
    assert message.num_segments == "1"
    assert [m.body for m in sim.sent_messages()] == ["Wij bellen u vandaag om 14:30"]


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"from_": "+3197010000000", "url": APP, "to": "+3161234"}, 21211),  # invalid To
        ({"from_": "+3197010000000", "to": CALLEE}, 21205),  # no Url, Twiml or ApplicationSid
        ({"from_": "+3197010000000", "to": CALLEE, "url": "not a url"}, 21205),
        ({"from_": "+3197010000000", "to": CALLEE, "url": APP, "status_callback_event": ["picked-up"]}, 21626),
        ({"from_": "+3197010000000", "to": CALLEE, "url": APP, "method": "PUT"}, 21209),
        ({"from_": "+3197010000000", "to": CALLEE, "url": APP, "timeout": "soon"}, 400),
        ({"from_": "+3197010000000", "to": CALLEE, "url": APP, "machine_detection": "Maybe"}, 400),
    ],
)
def test_invalid_call_requests_are_refused_like_twilio(client: Client, options: dict, code: int) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.calls.create(**options)
    assert caught.value.status == 400
    assert caught.value.code == code


def test_missing_to_is_21201_and_wrong_credentials_20003(sim: Simulator) -> None:
    url = f"{sim.rest_base_url}/2010-04-01/Accounts/{SIMULATOR_ACCOUNT_SID}/Calls.json"
    answer = requests.post(url, data={"From": "+3197010000000", "Url": APP},
                           auth=(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN), timeout=5)
    assert answer.status_code == 400
    assert answer.json() == {"code": 21201, "message": "No 'To' number is specified",
                             "more_info": "https://www.twilio.com/docs/errors/21201", "status": 400}
    denied = requests.get(url, auth=(SIMULATOR_ACCOUNT_SID, "wrong"), timeout=5)
    assert denied.status_code == 401 and denied.json()["code"] == 20003


def test_unknown_call_is_20404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.calls("CA" + "0" * 32).fetch()
    assert caught.value.status == 404 and caught.value.code == 20404


def test_unknown_parameter_is_refused_when_the_published_spec_is_present(sim: Simulator) -> None:
    assert isinstance(sim.spec, SpecValidator)
    url = f"{sim.rest_base_url}/2010-04-01/Accounts/{SIMULATOR_ACCOUNT_SID}/Calls.json"
    answer = requests.post(url, data={"To": CALLEE, "From": "+3197010000000", "Url": APP, "Colour": "red"},
                           auth=(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN), timeout=5)
    assert answer.status_code == 400 and answer.json()["code"] == 20001


# --- the adapter: the product's only way to the phone network -----------------------------------------


@pytest.fixture
def telephony(sim: Simulator, tmp_path: Path) -> TwilioTelephony:
    settings = load_settings({"TERUGBEL_DATA_DIR": str(tmp_path),
                              "TERUGBEL_TWILIO_API_BASE_URL": sim.rest_base_url})
    built = build_telephony(settings)
    assert isinstance(built, TwilioTelephony)
    return built


def test_every_request_the_adapter_makes_passes_twilios_description(telephony: TwilioTelephony,
                                                                    sim: Simulator) -> None:
    placed = telephony.place_call(OutboundCall(
        to=CALLEE, from_="+3197010000000", url=APP, status_callback="https://app.example/status",
        machine_detection="DetectMessageEnd", async_amd=True,
        async_amd_status_callback="https://app.example/amd", time_limit_seconds=600,
        fallback_url="https://app.example/fallback"))
    assert placed.status == "queued"
    call = sim.call(placed.sid)
    assert call.status_callback_events == ("initiated", "ringing", "answered", "completed")
    assert call.async_amd and call.machine_detection == "DetectMessageEnd"

    telephony.redirect_call(placed.sid, url="https://app.example/next")
    record = telephony.fetch_call(placed.sid)
    assert record.sid == placed.sid and record.to == CALLEE and record.status == "queued"
    telephony.end_call(placed.sid)
    assert telephony.fetch_call(placed.sid).status == "canceled"
    telephony.end_call(placed.sid)  # ending an ended call changes nothing

    assert sim.spec is not None  # so every request above was checked against Twilio's description

    sent = telephony.send_sms(CALLEE, "Tot straks", status_callback="https://app.example/sms-status")
    assert sent.status == "queued" and sent.sid.startswith("SM")


def test_adapter_maps_errors_to_domain_exceptions(telephony: TwilioTelephony, sim: Simulator) -> None:
    call = OutboundCall(to=CALLEE, from_="+3197010000000", url=APP)
    sim.faults.rate_limit_next()
    with pytest.raises(RetryableTelephonyError) as limited:
        telephony.place_call(call)
    assert limited.value.code == 20429 and limited.value.status == 429

    sim.faults.fail_next(status=503, code=20503)
    with pytest.raises(RetryableTelephonyError):
        telephony.place_call(call)

    with pytest.raises(InvalidNumberError) as invalid:
        telephony.place_call(OutboundCall(to="+31999", from_="+3197010000000", url=APP))
    assert invalid.value.code == 21211

    with pytest.raises(InvalidNumberError) as landline:
        telephony.send_sms("+31201234567", "hallo")  # a fixed line cannot receive texts
    assert landline.value.code == 21614

    with pytest.raises(PermanentTelephonyError) as not_found:
        telephony.fetch_call("CA" + "0" * 32)
    assert not_found.value.status == 404 and not isinstance(not_found.value, InvalidNumberError)

    assert telephony.place_call(call).status == "queued"  # the faults were used up


def test_a_slow_network_is_retryable(sim: Simulator) -> None:
    slow = TwilioTelephony(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, "+3197010000000",
                           http_client=RebasedHttpClient(sim.rest_base_url, timeout=0.2))
    sim.faults.slow_next(seconds=0.6)  # real time: this is about the client's socket timeout
    with pytest.raises(RetryableTelephonyError):
        slow.send_sms(CALLEE, "hallo")


def test_unreachable_simulator_is_retryable() -> None:
    adapter = TwilioTelephony(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, "+3197010000000",
                              http_client=RebasedHttpClient("http://127.0.0.1:9", timeout=1))
    with pytest.raises(RetryableTelephonyError):
        adapter.send_sms(CALLEE, "hallo")


def test_calls_above_the_cps_limit_stay_queued_and_start_later(client: Client, sim: Simulator) -> None:
    first = client.calls.create(to=CALLEE, from_="+3197010000000", url=APP)
    second = client.calls.create(to=CALLEE, from_="+3197010000000", url=APP)
    third = client.calls.create(to=CALLEE, from_="+3197010000000", url=APP)
    starts = [sim.call(c.sid).start_at for c in (first, second, third)]
    begun = [s for s in starts if s is not None]
    assert [(s - begun[0]).total_seconds() for s in begun] == [0.0, 1.0, 2.0]  # 1 call per second


_FIELDS = st.sampled_from(["To", "From", "Url", "Twiml", "Method", "StatusCallbackEvent", "Timeout",
                           "MachineDetection", "AsyncAmd", "Body", "Colour", "SendDigits"])


@given(st.dictionaries(_FIELDS, st.text(max_size=40), max_size=6))
def test_any_form_is_answered_201_or_a_twilio_error_never_a_crash(form: dict[str, str]) -> None:
    sim = Simulator(clock=ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)))
    web = sim.wsgi_app.test_client()
    for resource in ("Calls", "Messages"):
        answer = web.post(f"/2010-04-01/Accounts/{SIMULATOR_ACCOUNT_SID}/{resource}.json", data=form,
                          auth=(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN))
        body = answer.get_json()
        if answer.status_code == 201:
            assert SID.match(body["sid"]) and body["status"] == "queued"
        else:
            assert answer.status_code == 400, body
            assert set(body) == {"code", "message", "more_info", "status"} and body["status"] == 400
