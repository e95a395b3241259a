"""The pure voice menu: order of a call, at most two questions, confirmation, offers, language."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ivr import flow, prompts
from ivr.flow_types import (
    Ask,
    BookCallback,
    Booked,
    CallerInput,
    CallFacts,
    CancelPromise,
    Enqueue,
    FlowState,
    Goodbye,
    IncidentNotice,
    IntentOption,
    NotBooked,
    OfferSlots,
    PromiseNotice,
    RouteContact,
    Routed,
    SlotChoice,
    SlotsOffered,
    Subscribed,
    SubscribeIncidents,
    Transfer,
)
from routing.whisper import inbound_whisper_text

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 23, 10, 2, tzinfo=AMS).astimezone(UTC)
INTENTS = (
    IntentOption("internet", {"nl": "internet", "en": "internet"}, "1",
                 {"nl": ("internet doet het niet", "modem knippert"), "en": ("internet is down", "modem")}),
    IntentOption("factuur", {"nl": "facturen", "en": "invoices"}, "2",
                 {"nl": ("factuur klopt niet", "rekening"), "en": ("invoice", "bill")}),
)  # fmt: skip


def facts(**changes: object) -> CallFacts:
    base = CallFacts(number="+31612345678", caller_name=None, zone="Europe/Amsterdam", intents=INTENTS)
    return CallFacts(**{**base.__dict__, **changes})


def text(action: object) -> str:
    return " ".join(line.text for line in action.lines)  # type: ignore[attr-defined]


def slots(*clock: str) -> tuple[SlotChoice, ...]:
    out = []
    for index, hhmm in enumerate(clock, start=1):
        hour, minute = (int(p) for p in hhmm.split(":"))
        start = datetime(2026, 11, 23, hour, minute, tzinfo=AMS).astimezone(UTC)
        out.append(SlotChoice(index, start, start + timedelta(minutes=15)))
    return tuple(out)


def routed(**changes: object) -> Routed:
    base = Routed(queue_id=1, queue_name="technisch", open=True, wait_seconds=170, offer_callback_first=False)
    return Routed(**{**base.__dict__, **changes})


def test_unknown_caller_is_asked_the_problem_first_with_a_key_menu() -> None:
    state, action = flow.start(facts(), "nl", NOW)
    assert isinstance(action, Ask) and action.step == "problem"
    assert action.speech and action.language == "nl"
    said = text(action)
    assert said.index("Welkom") < said.index("waarover u belt") < said.index("1 voor internet")
    assert "2 voor facturen" in said and "0 voor een medewerker" in said
    assert action.lines[-1].text == "For English, press 9." and action.lines[-1].language == "en"
    assert "modem knippert" in action.hints
    assert state.questions == 1


def test_key_menu_has_at_most_four_intents() -> None:
    many = tuple(IntentOption(f"i{k}", {"nl": f"onderwerp {k}"}, str(k), {"nl": (f"x{k}",)}) for k in range(1, 7))
    _, action = flow.start(facts(intents=many), "nl", NOW)
    said = text(action)
    assert "4 voor onderwerp 4" in said and "5 voor" not in said


def test_known_caller_is_greeted_by_name() -> None:
    _, action = flow.start(facts(caller_name="Pieter Bakker"), "nl", NOW)
    assert "Goedendag Pieter Bakker" in text(action)


def test_incident_comes_first_with_fix_time_and_sms_offer() -> None:
    fix = datetime(2026, 11, 23, 12, 0, tzinfo=AMS)
    incident = IncidentNotice(7, {"nl": "Er is een internetstoring in regio Utrecht.", "en": "Outage."}, fix)
    state, action = flow.start(facts(incidents=(incident,), caller_name="Pieter"), "nl", NOW)
    assert isinstance(action, Ask) and action.step == "incident" and not action.speech
    said = text(action)
    assert said.startswith("Er is een internetstoring") and "vandaag om 12:00" in said
    assert "Toets 1 als u een sms wilt" in said and "Pieter" not in said
    assert state.questions == 0
    state, command = flow.advance(state, CallerInput(digits="1"), facts(incidents=(incident,)), NOW)
    assert command == SubscribeIncidents((7,))
    state, action = flow.advance(state, Subscribed(), facts(incidents=(incident,)), NOW)
    assert isinstance(action, Ask) and action.step == "problem"
    assert text(action).startswith("U krijgt een sms als het is opgelost.")


def test_open_promise_keep_move_cancel() -> None:
    start = datetime(2026, 11, 23, 14, 30, tzinfo=AMS)
    promise = PromiseNotice(3, 1, start, start + timedelta(minutes=15))
    f = facts(promise=promise)
    state, action = flow.start(f, "en", NOW)
    assert action.step == "promise" and "You have a callback today between 14:30 and 14:45" in text(action)
    kept_state, kept = flow.advance(FlowState.from_data(state.to_data(), "en"), CallerInput(digits="1"), f, NOW)
    assert isinstance(kept, Goodbye) and kept_state.outcome == "answered"
    _, cancel = flow.advance(FlowState.from_data(state.to_data(), "en"), CallerInput(digits="3"), f, NOW)
    assert cancel == CancelPromise(3)
    moving, command = flow.advance(FlowState.from_data(state.to_data(), "en"), CallerInput(digits="2"), f, NOW)
    assert command == OfferSlots(1)
    moving, offer = flow.advance(moving, SlotsOffered(1, slots("15:00", "15:15")), f, NOW)
    assert offer.step == "offer" and "another number" not in text(offer)
    moving, book = flow.advance(moving, CallerInput(digits="2"), f, NOW)
    assert book == BookCallback(1, "+31612345678", slot_id=2)


def test_sure_speech_routes_without_a_second_question() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, command = flow.advance(state, CallerInput(speech="mijn modem knippert rood", confidence=0.9), facts(), NOW)
    assert command == RouteContact("internet", "mijn modem knippert rood")
    assert state.questions == 1


def test_unsure_speech_gets_one_confirmation_then_routes() -> None:
    state, _ = flow.start(facts(), "en", NOW)
    state, ask = flow.advance(state, CallerInput(speech="something about the internet", confidence=0.5), facts(), NOW)
    assert isinstance(ask, Ask) and ask.step == "confirm"
    assert text(ask) == "I understood: internet. Press 1 if that is right, 2 if not."
    yes_state, command = flow.advance(FlowState.from_data(state.to_data(), "en"), CallerInput(digits="1"), facts(), NOW)
    assert isinstance(command, RouteContact) and command.intent == "internet"
    assert yes_state.questions == 2


def test_confirmation_is_corrected_by_words() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, _ = flow.advance(state, CallerInput(speech="iets met mijn modem", confidence=0.5), facts(), NOW)
    state, command = flow.advance(
        state, CallerInput(speech="nee het gaat om mijn rekening", confidence=0.9), facts(), NOW
    )
    assert isinstance(command, RouteContact) and command.intent == "factuur"
    assert "confirm:corrected" in state.path


def test_no_to_the_confirmation_goes_to_a_person() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, _ = flow.advance(state, CallerInput(speech="iets met mijn modem", confidence=0.5), facts(), NOW)
    state, command = flow.advance(state, CallerInput(digits="2"), facts(), NOW)
    assert command == RouteContact(None, "iets met mijn modem")


def test_silence_twice_goes_to_a_person_never_a_third_question() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, again = flow.advance(state, CallerInput(), facts(), NOW)
    assert isinstance(again, Ask) and text(again).startswith("Ik heb u niet gehoord.")
    state, command = flow.advance(state, CallerInput(), facts(), NOW)
    assert command == RouteContact(None, None)
    state, action = flow.advance(state, routed(wait_seconds=60), facts(), NOW)
    assert isinstance(action, Enqueue)
    assert text(action).startswith("Ik verbind u met een medewerker.")
    assert state.questions == 2


def test_unknown_key_reprompts_once() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, again = flow.advance(state, CallerInput(digits="7"), facts(), NOW)
    assert again.step == "problem" and text(again).startswith("Die toets hoort niet bij deze keuze.")
    state, command = flow.advance(state, CallerInput(digits="2"), facts(), NOW)
    assert command == RouteContact("factuur", None)


def test_language_switch_by_key() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, action = flow.advance(state, CallerInput(digits="9"), facts(), NOW)
    assert action.language == "en" and "In a few words" in text(action)
    assert action.lines[-1].text == "Voor Nederlands, toets 9."
    assert state.questions == 1 and state.switched


def test_short_wait_is_queued_with_a_concrete_estimate() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, _ = flow.advance(state, CallerInput(digits="1"), facts(), NOW)
    state, action = flow.advance(state, routed(wait_seconds=170), facts(), NOW)
    assert isinstance(action, Enqueue) and action.queue_name == "technisch"
    assert "ongeveer 3 minuten" in text(action)


def test_long_wait_offers_a_callback_first() -> None:
    state, _ = flow.start(facts(), "nl", NOW)
    state, _ = flow.advance(state, CallerInput(digits="1"), facts(), NOW)
    state, action = flow.advance(
        state,
        routed(wait_seconds=18 * 60, offer_callback_first=True, offers=slots("14:30", "15:00", "15:15")),
        facts(),
        NOW,
    )
    assert isinstance(action, Ask) and action.step == "offer"
    said = text(action)
    assert "ongeveer 18 minuten" in said
    assert "We kunnen u vandaag tussen 14:30 en 14:45 terugbellen." in said
    assert "Toets 1 om dat vast te leggen, 2 voor 15:00, 3 voor 15:15, of zeg een ander tijdstip." in said
    assert "Toets 4" in said and "Toets 5 om toch aan de lijn te wachten" in said
    state, command = flow.advance(state, CallerInput(digits="1"), facts(), NOW)
    assert command == BookCallback(1, "+31612345678", slot_id=1)
    state, bye = flow.advance(
        state, Booked(slots("14:30")[0].start, slots("14:30")[0].end, "+31612345678", True), facts(), NOW
    )
    assert isinstance(bye, Goodbye) and "vandaag tussen 14:30 en 14:45" in text(bye)
    assert "U krijgt een sms" in text(bye)
    assert state.outcome == "callback_booked"


def test_a_booking_without_a_text_reads_the_time_back() -> None:
    state = at_the_offer()
    state, _ = flow.advance(state, CallerInput(digits="1"), facts(), NOW)
    state, bye = flow.advance(
        state, Booked(slots("14:30")[0].start, slots("14:30")[0].end, "+31612345678", False), facts(), NOW
    )
    assert isinstance(bye, Goodbye)
    assert "sms" not in text(bye).replace("geen sms", "")
    assert text(bye).count("vandaag tussen 14:30 en 14:45") == 2


def at_the_offer(language: str = "nl") -> FlowState:
    state, _ = flow.start(facts(), language, NOW)
    state, _ = flow.advance(state, CallerInput(digits="1"), facts(), NOW)
    state, _ = flow.advance(
        state, routed(wait_seconds=18 * 60, offer_callback_first=True, offers=slots("14:30", "15:00")), facts(), NOW
    )
    return state


def test_another_number_is_read_back_and_confirmed_before_it_is_used() -> None:
    state, ask = flow.advance(at_the_offer(), CallerInput(digits="4"), facts(), NOW)
    assert isinstance(ask, Ask) and ask.step == "number" and ask.finish_on_key == "#"
    state, confirm = flow.advance(state, CallerInput(digits="0687654300"), facts(), NOW)
    assert isinstance(confirm, Ask) and confirm.step == "number_confirm"
    assert text(confirm) == (
        "We bellen u op 0 6 8 7 6 5 4 3 0 0. Toets 1 als dat klopt, of 2 om een ander nummer in te toetsen."
    )
    state, offer = flow.advance(state, CallerInput(digits="1"), facts(), NOW)
    assert isinstance(offer, Ask) and offer.step == "offer"
    state, command = flow.advance(state, CallerInput(digits="1"), facts(), NOW)
    assert command == BookCallback(1, "+31687654300", slot_id=1)


def test_a_number_read_back_wrong_is_typed_again_and_a_spoken_yes_confirms() -> None:
    state, _ = flow.advance(at_the_offer("en"), CallerInput(digits="4"), facts(), NOW)
    state, _ = flow.advance(state, CallerInput(digits="0687654300"), facts(), NOW)
    state, again = flow.advance(state, CallerInput(digits="2"), facts(), NOW)
    assert isinstance(again, Ask) and again.step == "number"
    assert text(again) == "Type the number we should call, then press hash."
    state, confirm = flow.advance(state, CallerInput(digits="0687654311"), facts(), NOW)
    assert text(confirm).startswith("We will call you on 0 6 8 7 6 5 4 3 1 1. Press 1 if that is right")
    state, _ = flow.advance(state, CallerInput(speech="yes"), facts(), NOW)
    state, command = flow.advance(state, CallerInput(digits="2"), facts(), NOW)
    assert command == BookCallback(1, "+31687654311", slot_id=2)


def test_an_unusable_number_is_refused_with_its_reason_and_the_callers_own_stays() -> None:
    state, _ = flow.advance(at_the_offer(), CallerInput(digits="4"), facts(), NOW)
    state, again = flow.advance(state, CallerInput(digits="0201234567"), facts(), NOW)  # a landline
    assert isinstance(again, Ask) and again.step == "number"
    assert text(again).startswith("Op dat nummer kunnen we geen sms sturen: geef een mobiel nummer.")
    state, offer = flow.advance(state, CallerInput(digits="09001234567"), facts(), NOW)  # premium rate
    assert isinstance(offer, Ask) and offer.step == "offer"  # twice refused: back to the offer
    assert text(offer).startswith("Betaalnummers bellen we niet")
    state, command = flow.advance(state, CallerInput(digits="1"), facts(), NOW)
    assert command == BookCallback(1, "+31612345678", slot_id=1)


def test_a_number_the_booking_refuses_is_asked_again_with_the_reason() -> None:
    state, command = flow.advance(at_the_offer(), CallerInput(digits="1"), facts(), NOW)
    assert isinstance(command, BookCallback)
    refused = NotBooked("number", slots("14:30"), refusal="cb_number_not_mobile")
    state, ask = flow.advance(state, refused, facts(), NOW)
    assert isinstance(ask, Ask) and ask.step == "number"
    assert text(ask).startswith("Op dat nummer kunnen we geen sms sturen")


def test_closed_queue_offers_callback_and_understands_a_spoken_time() -> None:
    evening = datetime(2026, 11, 23, 21, 30, tzinfo=AMS).astimezone(UTC)
    state, _ = flow.start(facts(), "en", evening)
    state, _ = flow.advance(state, CallerInput(digits="2"), facts(), evening)
    tomorrow = tuple(
        SlotChoice(s.slot_id, s.start + timedelta(days=1), s.end + timedelta(days=1)) for s in slots("09:00")
    )
    state, offer = flow.advance(state, routed(open=False, offer_callback_first=True, offers=tomorrow), facts(), evening)
    said = text(offer)
    assert "We are closed right now." in said and "tomorrow between 09:00 and 09:15" in said
    assert "wait on the line" not in said
    state, command = flow.advance(state, CallerInput(speech="tomorrow at eleven"), facts(), evening)
    assert isinstance(command, BookCallback)
    assert command.near is not None and command.near.astimezone(AMS).hour == 11


def test_anonymous_caller_waits_instead_of_a_callback() -> None:
    anonymous = facts(number=None)
    state, _ = flow.start(anonymous, "nl", NOW)
    state, _ = flow.advance(state, CallerInput(digits="1"), anonymous, NOW)
    state, action = flow.advance(state, routed(offer_callback_first=True, offers=()), anonymous, NOW)
    assert isinstance(action, Enqueue)


def test_wait_prompt_tells_position_estimate_and_callback() -> None:
    state = FlowState(language="en", wait_seconds=300)
    ask = prompts.wait_prompt(
        state, position=2, waited_seconds=60, offer=slots("14:30")[0], zone="Europe/Amsterdam", now=NOW
    )
    assert text(ask) == (
        "You are number 2 in line. The wait is about 4 minutes. Press 1 for a callback today at 14:30 instead."
    )


def test_whisper_names_caller_problem_and_contact_count() -> None:
    said = inbound_whisper_text("nl", name="Monique de Vries", problem="factuur", repeat_count=1)
    assert said == "Monique de Vries, factuur, tweede contact deze week. Toets 1 om het gesprek aan te nemen."


def test_apology_offers_the_overflow_line_or_a_concrete_time() -> None:
    transfer = prompts.apology("nl", overflow_number="+31201234567", callback=None, zone="Europe/Amsterdam", now=NOW)
    assert isinstance(transfer, Transfer) and transfer.number == "+31201234567"
    bye = prompts.apology("en", overflow_number=None, callback=None, zone="Europe/Amsterdam", now=NOW)
    assert isinstance(bye, Goodbye) and "10:17" in text(bye)


def test_language_from_preference_or_number() -> None:
    assert flow.language_for("en", "+31612345678") == "en"
    assert flow.language_for(None, "+32470123456") == "nl"
    assert flow.language_for(None, "+447700900123") == "en"
    assert flow.language_for(None, None) == "nl"


def test_flow_state_data_is_a_copy_that_round_trips() -> None:
    state = FlowState(language="nl", heard_incidents=[3], offers=[[7, "2026-11-23T14:30", "2026-11-23T14:45"]])
    state.path.append("probleem")
    data = state.to_data()
    assert data == dataclasses.asdict(state)
    data["offers"][0][0] = 8
    data["path"].append("later")
    assert state.offers[0][0] == 7 and state.path == ["probleem"]  # the stored data shares no list
    assert FlowState.from_data(state.to_data(), "en") == state
    assert FlowState.from_data({"step": "ask", "unknown": 1}, "en") == FlowState(language="en", step="ask")


def test_silence_at_the_offer_while_open_keeps_the_caller_on_the_line() -> None:
    state, action = flow.advance(at_the_offer(), CallerInput(), facts(), NOW)
    assert isinstance(action, Enqueue) and action.queue_name == "technisch"
    assert "offer:silent-wait" in state.path
    assert text(action).startswith("U komt in de wachtrij.")  # not the question again
    assert "niet gehoord" not in text(action)
