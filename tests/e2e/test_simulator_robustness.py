"""Whatever TwiML the app returns, a simulated call ends: no hang, no crash (property-based)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from telephony.call_status import FINAL_CALL_STATUSES
from telephony.simulator import Reply, Simulator
from telephony.simulator.testing import TwimlTestApp
from terugbel.clock import ManualClock
from terugbel.settings import SIMULATOR_AUTH_TOKEN

ROUTES = ["/twilio/voice", "/a", "/b"]
NUMBERS = ["+31611110001", "+31611110002"]


@pytest.fixture(scope="module")
def app() -> Iterator[TwimlTestApp]:
    twiml_app = TwimlTestApp(SIMULATOR_AUTH_TOKEN).start()
    yield twiml_app
    twiml_app.stop()


words = st.text(alphabet="abcdefghij 1", min_size=1, max_size=20).map(str.strip).filter(bool)


@st.composite
def verbs(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["say", "pause", "gather", "redirect", "hangup", "reject", "record", "leave",
                                 "enqueue", "dial", "play", "conference", "dequeue"]))
    route = draw(st.sampled_from(ROUTES))
    if kind == "say":
        return ("say", draw(words))
    if kind == "pause":
        return ("pause", draw(st.integers(0, 20)))
    if kind == "gather":
        return ("gather", draw(st.sampled_from(["dtmf", "speech", "dtmf speech"])), draw(st.integers(1, 10)),
                draw(st.none() | st.integers(1, 3)), draw(st.none() | st.just(route)), draw(st.booleans()),
                draw(words))
    if kind in {"redirect", "enqueue"}:
        return (kind, route, draw(st.booleans()))
    if kind == "dial":
        return ("dial", draw(st.sampled_from(NUMBERS)), draw(st.integers(5, 40)), draw(st.none() | st.just(route)))
    if kind == "record":
        return ("record", draw(st.integers(1, 10)), draw(st.integers(1, 60)))
    if kind == "reject":
        return ("reject", draw(st.sampled_from([None, "busy"])))
    if kind == "conference":
        return ("conference", draw(st.booleans()), draw(st.booleans()), draw(st.none() | st.just(route)))
    if kind == "dequeue":
        return ("dequeue", draw(st.integers(5, 40)), draw(st.none() | st.just(route)))
    return (kind,)


def render(steps: list[tuple[Any, ...]]) -> str:
    response = VoiceResponse()
    for step in steps:
        kind = step[0]
        if kind == "say":
            response.say(step[1])
        elif kind == "pause":
            response.pause(length=step[1])
        elif kind == "gather":
            gather = Gather(input=step[1], timeout=step[2], num_digits=step[3], action=step[4],
                            action_on_empty_result=step[5])
            gather.say(step[6])
            response.append(gather)
        elif kind == "redirect":
            response.redirect(step[1])
        elif kind == "enqueue":
            response.enqueue("q", wait_url=step[1] if step[2] else None)
        elif kind == "dial":
            dial = Dial(timeout=step[2], action=step[3])
            dial.number(step[1])
            response.append(dial)
        elif kind == "record":
            response.record(timeout=step[1], max_length=step[2])
        elif kind == "conference":
            dial = Dial()
            dial.conference("room", start_conference_on_enter=step[1], end_conference_on_exit=step[2],
                            wait_url=step[3])
            response.append(dial)
        elif kind == "dequeue":
            dial = Dial(timeout=step[1])
            dial.queue("q", url=step[2])
            response.append(dial)
        elif kind == "reject":
            response.reject(reason=step[1])
        elif kind == "hangup":
            response.hangup()
        elif kind == "leave":
            response.leave()
        elif kind == "play":
            response.play("https://cdn.example/tune.mp3")
    return str(response)


replies = st.lists(st.builds(Reply, say=st.none() | words, press=st.none() | st.sampled_from(["1", "12#", "9"]),
                             hang_up=st.booleans()), max_size=4)


@settings(max_examples=30, deadline=None)
@given(documents=st.fixed_dictionaries({route: st.lists(verbs(), max_size=4) for route in ROUTES}),
       script=replies, agents_answer=st.booleans())
def test_every_call_ends(app: TwimlTestApp, documents: dict[str, list[tuple[Any, ...]]], script: list[Reply],
                         agents_answer: bool) -> None:
    for route, steps in documents.items():
        app.route(route, render(steps))
    sim = Simulator(clock=ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)), app_base_url=app.base_url)
    for number in NUMBERS:
        sim.add_agent(number, answers=agents_answer, talk_seconds=30)
    callers = ["+31612345678", "+31687654321"]  # two at once: queues and conferences meet each other
    for number in callers:
        sim.add_caller(number, script, hang_up_after=900)

    transcripts = [sim.place_inbound_call(number, status_path=None, wait=False) for number in callers]
    sim.run_until_idle(max_seconds=3600)

    for transcript in transcripts:
        assert transcript.status in FINAL_CALL_STATUSES, transcript.to_text()
    assert sim.network.scheduler.idle
    assert all(call.is_final for call in sim.calls())
    assert not any("simulator fault" in entry.message for call in sim.calls() for entry in call.log)
