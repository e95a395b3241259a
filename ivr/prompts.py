"""What the caller hears, worded: each question of the menu, the hold message and the apology.

Pure: a prompt is built from the flow's state and facts and the catalogue (terugbel/i18n.py), with
times formatted in the caller's zone. ivr/flow.py decides which prompt comes next.
"""

from __future__ import annotations

import math
from datetime import datetime

from ivr.flow_types import (
    CALL_AGAIN_AFTER,
    MAX_MENU_KEYS,
    Action,
    Ask,
    CallFacts,
    FlowState,
    Goodbye,
    IntentOption,
    Line,
    SlotChoice,
    Transfer,
    other_language,
)
from terugbel.i18n import format_clock, format_day, format_moment, format_window, message_id, t
from terugbel.phone import spoken_digits


def say(state: FlowState, key: str, **params: object) -> Line:
    return Line(t(state.language, key, **params), state.language)


def _switch_line(state: FlowState) -> list[Line]:
    if not state.offers_switch:
        return []
    other = other_language(state.language)
    return [Line(t(state.language, "ivr_switch_language"), other)]


def ask_incident(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Ask:
    lines = list(lead)
    for incident in facts.incidents:
        message = incident.messages.get(state.language) or next(iter(incident.messages.values()), "")
        if message:
            lines.append(Line(message, state.language))
        if incident.fix_at is not None:
            lines.append(say(state, "ivr_incident_fix_at", moment=moment_text(incident.fix_at, facts, state, now)))
    lines.append(say(state, "ivr_incident_offer"))
    lines.extend(_switch_line(state))
    return Ask(tuple(lines), "incident", state.language, speech=False, num_digits=1, timeout=4)


def promise_window_text(state: FlowState, facts: CallFacts, now: datetime) -> str:
    start, end = (datetime.fromisoformat(v) for v in state.promise_window or [])
    return format_window(start, end, facts.zone, state.language, now)


def ask_promise(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Ask:
    lines = [*lead, say(state, "ivr_promise", window=promise_window_text(state, facts, now))]
    lines.extend(_switch_line(state))
    return Ask(tuple(lines), "promise", state.language, hints=_hints(state, facts))


def ask_problem(state: FlowState, facts: CallFacts, lead: list[Line], *, again: bool = False) -> Ask:
    lines = list(lead)
    if not state.greeted:
        state.greeted = True
        if facts.caller_name:
            lines.append(say(state, "ivr_greeting_known", name=facts.caller_name))
        else:
            lines.append(say(state, "ivr_welcome"))
    lines.append(say(state, message_id("ivr_problem_again") if again else message_id("ivr_problem_question")))
    keyed = menu_intents(facts)
    if keyed:
        choices = ", ".join(
            t(state.language, "ivr_key_choice", digit=i.key, label=intent_label(i, state.language)) for i in keyed
        )
        lines.append(say(state, "ivr_key_menu", choices=choices))
    else:
        lines.append(say(state, "ivr_key_menu_person_only"))
    lines.extend(_switch_line(state))
    return Ask(tuple(lines), "problem", state.language, hints=_hints(state, facts), timeout=6)


def ask_callback_problem(state: FlowState, facts: CallFacts, moment: str) -> Ask:
    """A callback time asked for before the problem: the time is taken, then what it is about."""
    lines = (say(state, "ivr_callback_problem", moment=moment),)
    return Ask(lines, "problem", state.language, hints=_hints(state, facts), timeout=6)


def ask_confirm(state: FlowState, facts: CallFacts, intent: str) -> Ask:
    """One confirmation of an unsure match: "I understood: invoices. Press 1 if that is right."."""
    label = next((intent_label(i, state.language) for i in facts.intents if i.name == intent), intent)
    lines = (say(state, "ivr_confirm", label=label),)
    return Ask(lines, "confirm", state.language, hints=("ja", "nee", "yes", "no"), num_digits=1)


def reask(state: FlowState, facts: CallFacts, now: datetime) -> Ask:
    if state.step == "incident":
        return ask_incident(state, facts, now, [])
    if state.step == "promise":
        return ask_promise(state, facts, now, [])
    state.greeted = False
    return ask_problem(state, facts, [])


def menu_intents(facts: CallFacts) -> list[IntentOption]:
    keyed = sorted((i for i in facts.intents if i.key), key=lambda i: i.key or "")
    return keyed[:MAX_MENU_KEYS]


def intent_label(intent: IntentOption, language: str) -> str:
    return intent.labels.get(language) or intent.name


def _hints(state: FlowState, facts: CallFacts) -> tuple[str, ...]:
    hints: list[str] = []
    for intent in facts.intents:
        hints.append(intent_label(intent, state.language))
        hints.extend(intent.phrases.get(state.language, ()))
    return tuple(dict.fromkeys(h for h in hints if h))


def moment_text(moment: datetime, facts: CallFacts, state: FlowState, now: datetime) -> str:
    return format_moment(moment, facts.zone, state.language, now)


def ask_offer(state: FlowState, facts: CallFacts, now: datetime, lead: list[Line]) -> Ask:
    offers = state.choices()
    first = offers[0]
    lines = [
        *lead,
        say(state, "ivr_offer", window=format_window(first.start, first.end, facts.zone, state.language, now)),
    ]
    first_day = format_day(first.start, facts.zone, state.language, now)
    others = "".join(
        t(
            state.language,
            "ivr_offer_other",
            digit=index,
            moment=(
                format_clock(offer.start, facts.zone, state.language)
                if format_day(offer.start, facts.zone, state.language, now) == first_day
                else format_moment(offer.start, facts.zone, state.language, now)
            ),
        )
        for index, offer in enumerate(offers[1:3], start=2)
    )
    lines.append(say(state, "ivr_offer_keys", others=others))
    if not state.moving:
        lines.append(say(state, "ivr_offer_other_number"))
        if state.queue_open:  # wait for an agent, or speak to the one free now
            key = message_id("ivr_offer_wait") if state.wait_seconds > 0 else message_id("ivr_offer_agent_now")
            lines.append(say(state, key))
    return Ask(tuple(lines), "offer", state.language, num_digits=1, timeout=6)


def ask_number(state: FlowState, lead: list[Line]) -> Ask:
    lines = (*lead, say(state, "ivr_ask_number"))
    return Ask(lines, "number", state.language, speech=False, timeout=10, finish_on_key="#")


def confirm_number(state: FlowState, lead: list[Line]) -> Ask:
    number = spoken_digits(state.pending_number or "")
    lines = (*lead, say(state, "ivr_confirm_number", number=number))
    return Ask(lines, "number_confirm", state.language, num_digits=1, timeout=6)


def wait_estimate(state: FlowState, seconds: int) -> list[Line]:
    """The wait in whole minutes; nothing when there is none (an agent is free: say so with `joining_queue`)."""
    if seconds <= 0:
        return []
    minutes = max(1, math.ceil(seconds / 60))
    if minutes == 1:
        return [say(state, "ivr_wait_estimate_one")]
    return [say(state, "ivr_wait_estimate", minutes=minutes)]


def join_line(state: FlowState) -> Line:
    """Put through at once when an agent is free, else into the queue: never "through" to a wait."""
    return say(state, message_id("ivr_connecting") if state.wait_seconds <= 0 else message_id("ivr_queue_join"))


def joining_queue(state: FlowState) -> list[Line]:
    """What a caller hears as they join the queue: an agent free now, or the queue and its wait."""
    if state.wait_seconds <= 0:
        return [join_line(state), say(state, "ivr_wait_none")]
    return [join_line(state), *wait_estimate(state, state.wait_seconds)]


def wait_prompt(
    state: FlowState,
    *,
    position: int,
    waited_seconds: int,
    offer: SlotChoice | None,
    zone: str,
    now: datetime,
    connecting: bool = False,
) -> Ask:
    """One loop of the hold message: position, a concrete estimate, and a callback instead.

    `connecting`: an agent is being rung for this caller. Then the caller hears only that, never a
    place in line or a wait next to "an agent is free for you".
    """
    if connecting:
        lines = [say(state, "ivr_wait_connecting")]
    else:
        remaining = max(60, state.wait_seconds - waited_seconds) if state.wait_seconds > 0 else 60
        lines = [say(state, "ivr_wait_position", position=max(1, position)), *wait_estimate(state, remaining)]
        if offer is not None:
            lines.append(say(state, "ivr_wait_offer", moment=format_moment(offer.start, zone, state.language, now)))
    return Ask(tuple(lines), "queued", state.language, speech=False, num_digits=1, timeout=15, act_on_silence=False)


def apology(
    language: str,
    *,
    overflow_number: str | None,
    callback: tuple[datetime, datetime] | None,
    zone: str,
    now: datetime,
) -> Action:
    """Something broke on our side: say so, then a person on the overflow line or a concrete time."""
    sorry = [Line(t(language, "ivr_apology"), language)]
    if overflow_number:
        return Transfer((*sorry, Line(t(language, "ivr_fallback_overflow"), language)), overflow_number)
    if callback is not None:
        window = format_window(callback[0], callback[1], zone, language, now)
        return Goodbye((*sorry, Line(t(language, "ivr_fallback_callback", window=window), language)))
    again = format_clock(now + CALL_AGAIN_AFTER, zone, language)
    return Goodbye((*sorry, Line(t(language, "ivr_call_again_at", clock=again), language)))
