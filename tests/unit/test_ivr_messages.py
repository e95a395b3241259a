"""Every sentence the caller hears or reads: in both languages, no survey, no vague promise."""

from __future__ import annotations

import re

import pytest

from ivr.messages import MESSAGES
from terugbel.i18n import catalogue

FORBIDDEN = [
    r"survey",
    r"enqu[eê]te",
    r"rating",
    r"rate (us|our|this)",
    r"beoordeel",
    r"beoordeling",
    r"satisf",
    r"tevreden",
    r"take part",
    r"participat",
    r"deelnemen",
    r"deelname",
    r"doe mee",
    r"feedback",
    r"as soon as possible",
    r"zo snel mogelijk",
    r"zsm",
    r"asap",
    r"shortly",
    r"binnenkort",
]


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_no_prompt_asks_for_a_rating_or_promises_vaguely(lang: str) -> None:
    for key, sentence in catalogue()[lang].items():
        for pattern in FORBIDDEN:
            assert not re.search(pattern, sentence, re.IGNORECASE), f"{lang}.{key}: {sentence!r} matches {pattern}"


def test_every_menu_sentence_exists_in_both_languages() -> None:
    assert set(MESSAGES["nl"]) == set(MESSAGES["en"])
    for key in MESSAGES["nl"]:
        placeholders_nl = set(re.findall(r"{(\w+)}", MESSAGES["nl"][key]))
        placeholders_en = set(re.findall(r"{(\w+)}", MESSAGES["en"][key]))
        assert placeholders_nl == placeholders_en, key


def test_language_switch_is_said_in_the_other_language() -> None:
    assert "English" in MESSAGES["nl"]["ivr_switch_language"]
    assert "Nederlands" in MESSAGES["en"]["ivr_switch_language"]
