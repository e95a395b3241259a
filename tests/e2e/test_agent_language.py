"""Whole calls through the simulator: the agent hears the whisper in the agent's language, the caller
hears the caller's, inbound and on a callback alike."""

from __future__ import annotations

from typing import Any

import pytest

from telephony.simulator import Simulator
from tests.e2e.callback_driver import CallbackWorld, book

PIETER = "+31612345678"  # a Dutch mobile: a Dutch caller
EMMA = "+447911123456"  # a British mobile: an English caller
AGENT = "+31611110001"


@pytest.fixture
def center(make_queue: Any, make_intent: Any) -> dict[str, Any]:
    technisch = make_queue("technisch", default_handle_seconds=120)
    make_intent(
        "internet", technisch, key="1", label_nl="internet en tv", label_en="internet and tv",
        nl=["internet doet het niet", "modem knippert"], en=["internet is down", "modem"],
    )  # fmt: skip
    return {"technisch": technisch}


@pytest.mark.parametrize(
    ("caller", "name", "words", "greeting", "agent_language", "whisper", "not_heard"),
    [
        (  # an English agent, a Dutch caller
            PIETER, "Pieter Bakker", "mijn modem knippert rood", "Goedendag Pieter Bakker.", "en",
            "Pieter Bakker, mijn modem knippert rood, first contact this week. Press 1 to take the call.",
            "contact deze week",
        ),
        (  # a Dutch agent, an English caller
            EMMA, "Emma Clarke", "my internet is down", "In a few words, what is your call about?", "nl",
            "Emma Clarke, my internet is down, eerste contact deze week. Toets 1 om het gesprek aan te nemen.",
            "this week",
        ),
    ],
)  # fmt: skip
def test_the_agent_hears_the_whisper_in_the_agents_language(
    sim: Simulator, center: dict[str, Any], make_agent: Any, make_caller: Any,
    caller: str, name: str, words: str, greeting: str, agent_language: str, whisper: str, not_heard: str,
) -> None:  # fmt: skip
    make_caller(caller, name)
    make_agent("Agent", AGENT, ("technisch",), language=agent_language)
    sim.add_agent(AGENT)
    call = sim.place_inbound_call(caller, script=[words], max_seconds=600)
    assert greeting in call.system_text  # the caller hears the caller's language
    [agent_call] = [c for c in sim.calls() if c.to == AGENT]
    heard_by_agent = agent_call.transcript.system_text
    assert whisper in heard_by_agent and not_heard not in heard_by_agent
    assert "(presses 1)" in agent_call.transcript.said_by("agent")


def test_an_english_agent_hears_an_english_callback_for_a_dutch_caller(
    world: CallbackWorld, make_queue: Any, make_agent: Any, make_caller: Any
) -> None:
    technisch = make_queue("technisch", callback_share=1.0)
    make_agent("Emily", AGENT, ("technisch",), language="en")
    jan = make_caller(PIETER, name="Jan Jansen")
    promise = book(world, technisch, PIETER, caller_id=jan.id, problem="mijn modem knippert rood", language="nl")
    world.sim.add_agent(AGENT)
    world.sim.add_callee(PIETER)

    world.run_until(promise.window_end)

    assert world.promise(promise.id).state == "completed"
    [agent_call] = world.calls_to(AGENT)
    [caller_call] = world.calls_to(PIETER)
    heard_by_agent = agent_call.transcript.system_text
    assert "Callback with Jan Jansen, about: mijn modem knippert rood. First contact this week." in heard_by_agent
    assert "Press 1 to connect, 2 to pass." in heard_by_agent
    assert "Connecting you to the caller. One moment." in heard_by_agent
    assert "The call has ended. Press 1 if the question is resolved" in heard_by_agent
    assert "Druk" not in heard_by_agent and "Terugbelafspraak" not in heard_by_agent
    # The caller hears their own language.
    assert "dit is de terugbelafspraak die u maakte met Terugbel" in caller_call.transcript.system_text
