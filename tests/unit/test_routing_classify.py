"""The intent classifier: normalised text, phrase and keyword scoring, Twilio's confidence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from routing.classify import IntentPhrases, classify, normalise, yes_or_no

INTENTS = [
    IntentPhrases("internet", ("internet doet het niet", "storing", "modem knippert", "geen verbinding")),
    IntentPhrases("factuur", ("factuur klopt niet", "rekening", "betaling")),
    IntentPhrases("opzeggen", ("abonnement opzeggen", "opzeggen")),
]


def test_normalise_drops_case_accents_and_punctuation() -> None:
    assert normalise("  Mijn  FACTÚUR, klopt niet!! ") == "mijn factuur klopt niet"


def test_whole_phrase_is_sure() -> None:
    found = classify("mijn modem knippert rood", INTENTS, 0.92)
    assert found.intent == "internet"
    assert found.sure


def test_keywords_of_a_phrase_count() -> None:
    found = classify("mijn factuur klopt nog steeds niet", INTENTS, 0.9)
    assert found.intent == "factuur"
    assert found.sure


def test_compound_word_counts_for_its_part() -> None:
    found = classify("ik heb een internetstoring", INTENTS, None)
    assert found.intent == "internet"


def test_low_confidence_is_not_trusted() -> None:
    found = classify("storing", INTENTS, 0.2)
    assert found.intent == "internet"
    assert not found.sure


def test_half_a_phrase_is_a_candidate_to_confirm() -> None:
    found = classify("iets met mijn modem", INTENTS, 0.9)
    assert found.intent == "internet"
    assert not found.sure


def test_nothing_matching_gives_no_intent() -> None:
    assert classify("de kat zit op de mat", INTENTS, 0.9).intent is None
    assert classify("", INTENTS, 0.9).intent is None
    assert classify("storing", [], 0.9).intent is None


def test_yes_and_no() -> None:
    assert yes_or_no("ja dat klopt") is True
    assert yes_or_no("yes") is True
    assert yes_or_no("nee") is False
    assert yes_or_no("dat klopt niet") is False
    assert yes_or_no("misschien") is None


@given(st.text(max_size=300), st.one_of(st.none(), st.floats(allow_nan=True)))
def test_any_text_classifies_without_error(text: str, confidence: float | None) -> None:
    found = classify(text, INTENTS, confidence)
    assert found.intent is None or found.intent in {"internet", "factuur", "opzeggen"}
    assert not (found.sure and found.intent is None)
