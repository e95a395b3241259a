"""The callback legs' webhooks: signed requests only, TwiML that parses, never a 500 on odd input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from callbacks.models import AttemptState, CallbackAttempt, PromiseState
from telephony.signing import SIGNATURE_HEADER, sign_request
from terugbel.runtime import Runtime
from terugbel.worker import SharedTestClock, run_worker
from tests.integration.dispatch_support import add_promise

BASE = "http://localhost"


def post(client, runtime: Runtime, path: str, form: dict[str, str]):
    url = BASE + path
    signature = sign_request(runtime.settings.twilio_auth_token or "", url, form)
    return client.post(path, data=form, headers={SIGNATURE_HEADER: signature})


def dialling_attempt(runtime: Runtime, queue_id: int, clock, **fields) -> CallbackAttempt:
    promise = add_promise(
        runtime.db,
        queue_id=queue_id,
        number="+31612345678",
        window_start=clock.now(),
        booked_at=clock.now() - timedelta(hours=1),
        state=PromiseState.DIALLING.value,
        attempts=1,
    )
    with runtime.db.session() as session:
        attempt = CallbackAttempt(
            promise_id=promise.id, number=1, started_at=clock.now(), stage_at=clock.now(), agents_tried=[], **fields
        )
        session.add(attempt)
    return attempt


def test_unsigned_requests_are_refused(client) -> None:
    response = client.post(
        "/twilio/callbacks/status?attempt=1&leg=caller", data={"CallSid": "CA1", "CallStatus": "busy"}
    )
    assert response.status_code == 403


def test_a_leg_of_a_finished_attempt_hears_a_goodbye(client, runtime, make_queue, clock) -> None:
    attempt = dialling_attempt(runtime, make_queue().id, clock, state=AttemptState.COMPLETED.value, agent_id=None)
    response = post(
        client, runtime, f"/twilio/callbacks/agent/whisper?attempt={attempt.id}&agent=9", {"CallSid": "CA" + "1" * 32}
    )
    assert response.status_code == 200
    document = ET.fromstring(response.data)
    assert [child.tag for child in document] == ["Say", "Hangup"]
    assert document.find("./Say").text == "Deze terugbelafspraak is niet meer nodig. Dank u."


def test_the_agent_leg_speaks_the_agents_language_with_its_voice(
    client, runtime, make_queue, make_agent, clock
) -> None:
    """An English agent hears an English whisper (en-GB, the English voice) for a Dutch caller's callback."""
    emily = make_agent("Emily", "+31611110001", language="en")
    sid = "CA" + "4" * 32
    attempt = dialling_attempt(
        runtime, make_queue().id, clock, state=AttemptState.AGENT_RINGING.value, agent_id=emily.id, agent_call_sid=sid
    )
    response = post(
        client, runtime, f"/twilio/callbacks/agent/whisper?attempt={attempt.id}&agent={emily.id}", {"CallSid": sid}
    )
    says = ET.fromstring(response.data).findall(".//Say")
    assert says[0].text.startswith("Callback with an unknown caller")
    assert says[1].text == "Press 1 to connect, 2 to pass."
    assert {(say.get("language"), say.get("voice")) for say in says} == {("en-GB", "Polly.Amy")}
    released = post(client, runtime, f"/twilio/callbacks/agent/released?agent={emily.id}", {"CallSid": sid})
    [say] = ET.fromstring(released.data).findall("./Say")
    assert (say.text, say.get("language")) == ("The caller was not reached. You are available again.", "en-GB")
    unknown = post(client, runtime, "/twilio/callbacks/agent/released", {"CallSid": sid})  # no agent named: Dutch
    [say] = ET.fromstring(unknown.data).findall("./Say")
    assert (say.get("language"), say.get("voice")) == ("nl-NL", "Polly.Lotte")


def test_the_caller_holds_while_detection_runs(client, runtime, make_queue, clock) -> None:
    sid = "CA" + "2" * 32
    attempt = dialling_attempt(
        runtime,
        make_queue().id,
        clock,
        state=AttemptState.CALLER_RINGING.value,
        caller_call_sid=sid,
        result="dialling the caller",
    )
    response = post(client, runtime, f"/twilio/callbacks/caller/answer?attempt={attempt.id}&poll=0", {"CallSid": sid})
    document = ET.fromstring(response.data)
    assert [child.tag for child in document] == ["Pause", "Redirect"]
    assert document.find("./Redirect").text.endswith(f"/twilio/callbacks/caller/answer?attempt={attempt.id}&poll=1")


def test_a_repeated_final_status_changes_nothing_twice(client, runtime, make_queue, clock) -> None:
    sid = "CA" + "3" * 32
    attempt = dialling_attempt(
        runtime,
        make_queue().id,
        clock,
        state=AttemptState.CALLER_RINGING.value,
        caller_call_sid=sid,
        result="dialling the caller",
    )
    for sequence in ("3", "3", "1"):  # twice, then an older one late
        response = post(
            client,
            runtime,
            f"/twilio/callbacks/status?attempt={attempt.id}&leg=caller",
            {"CallSid": sid, "CallStatus": "busy", "SequenceNumber": sequence},
        )
        assert response.status_code == 200
    with runtime.db.session() as session:
        stored = session.get(CallbackAttempt, attempt.id)
        assert stored.state == AttemptState.BUSY.value
        assert stored.promise.state == PromiseState.BOOKED.value and stored.promise.attempts == 1
        assert [t.to_state for t in stored.promise.transitions][-1:] == ["booked"]
        assert len([t for t in stored.promise.transitions if t.cause == "busy"]) == 1


@given(
    path=st.sampled_from(
        [
            "/agent/whisper",
            "/agent/choice",
            "/agent/after",
            "/agent/outcome",
            "/agent/released",
            "/caller/answer",
            "/caller/amd",
            "/status",
        ]
    ),
    attempt=st.one_of(
        st.integers(min_value=0, max_value=10**6).map(str), st.text(alphabet="ab-_.0123456789", max_size=8)
    ),
    form=st.dictionaries(
        st.sampled_from(["CallSid", "CallStatus", "Digits", "AnsweredBy", "SequenceNumber"]),
        st.text(max_size=50),
        max_size=5,
    ),
    leg=st.sampled_from(["agent", "caller", "", "x"]),
)
def test_odd_requests_never_break_the_webhooks(client, runtime, path, attempt, form, leg) -> None:

    query = f"attempt={attempt}&agent=1&leg={leg}&poll=0"
    response = post(client, runtime, f"/twilio/callbacks{path}?{query}", form)
    assert response.status_code in {200, 400}
    if response.status_code == 200:
        ET.fromstring(response.data)  # always TwiML


def test_a_worker_reconciles_at_start(runtime, make_queue, clock) -> None:
    promise = add_promise(
        runtime.db,
        queue_id=make_queue().id,
        number="+31612345678",
        window_start=clock.now() + timedelta(minutes=5),
        booked_at=clock.now(),
    )
    runtime.settings = runtime.settings.with_overrides(shared_test_clock=True)
    SharedTestClock.publish(runtime.redis, clock.now())

    run_worker(runtime, burst=True)

    from rq.registry import ScheduledJobRegistry

    from terugbel.redis_conn import DIAL_QUEUE, queue

    assert ScheduledJobRegistry(queue=queue(runtime.redis, DIAL_QUEUE)).get_job_ids() == [
        f"promise-{promise.id}-attempt-1"
    ]
    assert runtime.clock.now() == clock.now()  # the worker read the published time
