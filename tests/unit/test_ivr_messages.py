"""Every sentence the caller hears or reads: no survey, no vague promise (both languages: test_catalogues.py)."""

from __future__ import annotations

import re

import pytest

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


def test_language_switch_is_said_in_the_other_language() -> None:
    assert "English" in catalogue()["nl"]["ivr_switch_language"]
    assert "Nederlands" in catalogue()["en"]["ivr_switch_language"]
