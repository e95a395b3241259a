"""Whole calls through the simulator against the real app (create_app over real HTTP)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routing.distribution import dispatch_waiting
from telephony.simulator import Reply, Simulator
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime

PIETER = "+31612345678"
SANNE = "+31611110001"


@pytest.fixture
def sim(live_app: Any, runtime: Runtime, clock: ManualClock) -> Iterator[Simulator]:
    """The simulator on the test's clock, and the app's Telephony pointed at it (as `terugbel demo` does)."""
    simulator = Simulator.from_settings(runtime.settings, clock=clock, app_base_url=live_app.base_url).start()
    runtime.settings = runtime.settings.with_overrides(twilio_api_base_url=simulator.rest_base_url)
    runtime._telephony = None  # built again from the settings on first use
    yield simulator
    simulator.stop()


def test_inbound_call_problem_queue_whisper_and_agent(
    sim: Simulator,
    runtime: Runtime,
    make_queue: Callable[..., Any],
    make_intent: Callable[..., Any],
    make_agent: Callable[..., Any],
    make_caller: Callable[..., Any],
) -> None:
    technisch = make_queue("technisch")
    make_intent("internet", technisch, nl=["internet", "wifi"])
    make_agent("Sanne", SANNE)
    make_caller(PIETER, "Pieter Bakker")
    sim.add_agent(SANNE, talk_seconds=120)
    sim.add_caller(PIETER, [Reply(say="mijn internet doet het niet")], hang_up_after=900)

    transcript = sim.place_inbound_call(PIETER, wait=False)
    sim.run_until(lambda: "Enqueue" in transcript.verbs)
    # Distribution redirects the waiting call to the agent through the simulated REST API (the app may
    # already have done so when the caller was queued; then this finds nothing left to hand out).
    dispatch_waiting(runtime)
    sim.run_until_idle()

    assert transcript.status == "completed" and not transcript.errors
    assert {r["status"] for r in transcript.requests} == {"200"}  # every signed request was accepted
    system = transcript.system_text
    assert "Pieter" in system.split(".")[0]  # greeted by name, first
    assert transcript.said_by("caller")[0] == "mijn internet doet het niet"
    assert transcript.verbs[0] == "Gather" and "Enqueue" in transcript.verbs and "Dial" in transcript.verbs
    (agent_leg,) = [call for call in sim.calls() if call.direction == "outbound-dial"]
    assert agent_leg.to == SANNE and agent_leg.parent_call_sid == transcript.call_sid
    assert agent_leg.transcript is not None
    whisper = agent_leg.transcript.system_text
    assert "mijn internet doet het niet" in whisper  # the agent hears the problem before answering
    assert agent_leg.transcript.said_by("agent") == ["(presses 1)"]
    assert transcript.duration_seconds is not None and transcript.duration_seconds >= 120
    for call in sim.calls():
        assert not call.log, call.log


def test_inbound_call_hanging_up_while_waiting(
    sim: Simulator,
    make_queue: Callable[..., Any],
    make_intent: Callable[..., Any],
    make_caller: Callable[..., Any],
) -> None:
    technisch = make_queue("technisch")
    make_intent("internet", technisch, nl=["internet", "wifi"])
    make_caller(PIETER, "Pieter Bakker")
    sim.add_caller(PIETER, [Reply(say="mijn internet doet het niet")], hang_up_after=90)

    transcript = sim.place_inbound_call(PIETER)

    assert transcript.status == "completed" and not transcript.errors
    assert transcript.duration_seconds == 90
    assert {r["status"] for r in transcript.requests} == {"200"}
    assert "Enqueue" in transcript.verbs
