"""What a caller hears about the wait agrees with itself, in nl and en, in every state: an agent
free now, a wait with a place in line, and a long wait with the callback offer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ivr import flow, prompts
from ivr.flow_types import Ask, BookCallback, Booked, CallerInput, Enqueue, FlowState, Goodbye, NotBooked, RouteContact
from tests.unit.test_ivr_flow import AMS, NOW, facts, routed, slots, text

ZONE = "Europe/Amsterdam"
# Words that say an agent takes the call now, and words that say the caller waits for one.
NOW_WORDS = {
    "nl": ("direct een medewerker", "verbind u door", "nu doorverbonden", "nu een medewerker te spreken"),
    "en": ("free for you right now", "putting you through", "speak to a colleague now"),
}
WAIT_WORDS = {
    "nl": ("in de rij", "wachttijd", "wachtrij", "toch aan de lijn te wachten", "liever wordt teruggebeld"),
    "en": ("in line", "The wait is", "queue", "wait on the line anyway", "callback today"),
}


def says_now(language: str, heard: str) -> bool:
    return any(words in heard for words in NOW_WORDS[language])


def says_wait(language: str, heard: str) -> bool:
    return any(words in heard for words in WAIT_WORDS[language])


def routed_by_key(language: str, **changes: object) -> tuple[FlowState, object]:
    state, _ = flow.start(facts(), language, NOW)
    state, _ = flow.advance(state, CallerInput(digits="1"), facts(), NOW)
    return flow.advance(state, routed(**changes), facts(), NOW)


def hold_loop(state: FlowState, *, position: int, waited: int, connecting: bool) -> str:
    offer = slots("14:30")[0]
    return text(
        prompts.wait_prompt(
            state, position=position, waited_seconds=waited, offer=offer, zone=ZONE, now=NOW, connecting=connecting
        )
    )


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_agent_free_now_is_said_without_a_place_in_line_or_a_wait(language: str) -> None:
    state, joined = routed_by_key(language, wait_seconds=0)
    assert isinstance(joined, Enqueue)
    assert says_now(language, text(joined)) and not says_wait(language, text(joined))
    # The hold message while that agent is being rung: put through, no number in line, no callback.
    ringing = hold_loop(state, position=1, waited=0, connecting=True)
    assert says_now(language, ringing) and not says_wait(language, ringing)
    expected = {
        "nl": "Een ogenblik, u wordt nu doorverbonden met een medewerker.",
        "en": "One moment, I am putting you through to a colleague now.",
    }
    assert ringing == expected[language]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_wait_is_said_with_the_place_the_time_and_a_callback_never_as_put_through(language: str) -> None:
    state, joined = routed_by_key(language, wait_seconds=170)
    assert isinstance(joined, Enqueue)
    assert says_wait(language, text(joined)) and not says_now(language, text(joined))
    expected = {
        "nl": "U komt in de wachtrij. De wachttijd is ongeveer 3 minuten.",
        "en": "I am placing you in the queue. The wait is about 3 minutes.",
    }
    assert text(joined) == expected[language]
    waiting = hold_loop(state, position=2, waited=60, connecting=False)
    assert says_wait(language, waiting) and not says_now(language, waiting)
    # The agent who was free got another caller first: the hold message says the wait as it is now.
    free_state, _ = routed_by_key(language, wait_seconds=0)
    taken = hold_loop(free_state, position=1, waited=20, connecting=False)
    assert says_wait(language, taken) and not says_now(language, taken)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_long_wait_offers_the_callback_and_waiting_anyway_joins_the_queue(language: str) -> None:
    offers = slots("14:30", "15:00")
    state, offer = routed_by_key(language, wait_seconds=18 * 60, offer_callback_first=True, offers=offers)
    assert isinstance(offer, Ask) and offer.step == "offer"
    assert says_wait(language, text(offer)) and not says_now(language, text(offer))
    state, joined = flow.advance(state, CallerInput(digits="5"), facts(), NOW)
    assert isinstance(joined, Enqueue)
    assert says_wait(language, text(joined)) and not says_now(language, text(joined))


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_callback_offered_while_an_agent_is_free_offers_that_agent_not_a_wait(language: str) -> None:
    # A supervisor's rule may offer the callback first however short the wait.
    offers = slots("14:30", "15:00")
    state, offer = routed_by_key(language, wait_seconds=0, offer_callback_first=True, offers=offers)
    assert isinstance(offer, Ask) and offer.step == "offer"
    said = text(offer)
    assert says_now(language, said) and "wachttijd" not in said and "The wait is" not in said
    assert "toch aan de lijn te wachten" not in said and "wait on the line anyway" not in said
    state, joined = flow.advance(state, CallerInput(digits="5"), facts(), NOW)
    assert isinstance(joined, Enqueue)
    assert says_now(language, text(joined)) and not says_wait(language, text(joined))


# -- a callback time asked for at the first question --------------------------------------------


def test_a_callback_time_at_the_first_question_is_taken_then_the_problem_asked_once_then_booked() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, ask = flow.advance(state, CallerInput(speech="bel me morgen om tien uur terug"), facts(), NOW)
    assert isinstance(ask, Ask) and ask.step == "problem"
    assert text(ask) == "Goed, we bellen u morgen om 10:00 terug. Waarover gaat het, in een paar woorden?"
    assert "niet begrepen" not in text(ask) and state.questions == 2
    state, command = flow.advance(state, CallerInput(speech="mijn factuur klopt niet"), facts(), NOW)
    assert command == RouteContact("factuur", "bel me morgen om tien uur terug / mijn factuur klopt niet")
    state, book = flow.advance(state, routed(queue_id=2, queue_name="facturen", wait_seconds=60), facts(), NOW)
    assert isinstance(book, BookCallback) and book.queue_id == 2 and book.slot_id is None
    assert book.near is not None and (book.near.astimezone(AMS).day, book.near.astimezone(AMS).hour) == (24, 10)
    state, bye = flow.advance(
        state, Booked(book.near, book.near + timedelta(minutes=15), book.number, True), facts(), NOW
    )
    assert isinstance(bye, Goodbye) and "morgen tussen 10:00 en 10:15" in text(bye)
    assert state.outcome == "callback_booked"


def test_a_callback_time_with_the_problem_in_the_same_words_books_without_a_second_question() -> None:
    state, _ = flow.start(facts(), "en", NOW)
    state, command = flow.advance(
        state, CallerInput(speech="my internet is down, call me back tomorrow at eleven"), facts(), NOW
    )
    assert isinstance(command, RouteContact) and command.intent == "internet" and state.questions == 1
    state, book = flow.advance(state, routed(), facts(), NOW)
    assert isinstance(book, BookCallback) and book.near is not None and book.near.astimezone(AMS).hour == 11


def test_a_callback_time_and_a_problem_not_understood_books_in_the_general_queue() -> None:
    state, _ = flow.start(facts(), "en", NOW)
    state, ask = flow.advance(state, CallerInput(speech="please call me back at three"), facts(), NOW)
    assert isinstance(ask, Ask) and text(ask).startswith("Fine, we will call you back today at 15:00.")
    state, command = flow.advance(state, CallerInput(speech="something else entirely"), facts(), NOW)
    assert isinstance(command, RouteContact) and command.intent is None
    state, book = flow.advance(state, routed(queue_name="algemeen"), facts(), NOW)
    assert isinstance(book, BookCallback) and book.near is not None and book.near.astimezone(AMS).hour == 15
    # No slot near that time: the caller is told so and waits in the queue instead.
    state, after = flow.advance(state, NotBooked("no_slot"), facts(), NOW)
    assert (
        isinstance(after, Enqueue)
        and text(after) == "I cannot book a callback right now. I am placing you in the queue."
    )


def test_a_time_without_asking_for_a_callback_is_a_problem_and_a_withheld_number_asks_no_time() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, command = flow.advance(state, CallerInput(speech="mijn factuur van maandag klopt niet"), facts(), NOW)
    assert isinstance(command, RouteContact) and command.intent == "factuur" and state.requested_at is None
    anonymous = facts(number=None)
    state, _ = flow.start(anonymous, "nl", NOW)
    state, ask = flow.advance(state, CallerInput(speech="bel me morgen om tien uur terug"), anonymous, NOW)
    assert isinstance(ask, Ask) and "niet begrepen" in text(ask) and state.requested_at is None
