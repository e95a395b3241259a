"""What an agent hears before a caller is put through: one place for both sentences."""

from __future__ import annotations

from routing.whisper import callback_whisper_text, inbound_whisper_text


def test_the_inbound_whisper_counts_contacts_past_the_fifth() -> None:
    said = inbound_whisper_text("en", name=None, problem=None, repeat_count=6)
    assert said == "Unknown caller, no subject given, 7th contact this week. Press 1 to take the call."


def test_the_callback_whisper_names_caller_problem_and_history() -> None:
    said = callback_whisper_text(
        "nl", name="Monique de Vries", problem="factuur klopt niet", topic="factuur", earlier_contacts=1
    )
    assert said == (
        "Terugbelafspraak met Monique de Vries, over: factuur klopt niet. Tweede contact deze week over factuur."
    )
    first = callback_whisper_text("en", name=None, problem="  ", topic=None, earlier_contacts=0)
    assert first == "Callback with an unknown caller, about: no description. First contact this week."
    many = callback_whisper_text("en", name="Jan", problem="modem", topic=None, earlier_contacts=3)
    assert many == "Callback with Jan, about: modem. 4 contacts this week about modem."
