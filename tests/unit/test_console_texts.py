"""Every sentence the console shows has a Dutch translation."""

from __future__ import annotations

import re
from pathlib import Path

from console.texts import DUTCH, tr

CONSOLE = Path(__file__).resolve().parents[2] / "console"
# tr("...") or tr('...') with a literal sentence, in templates and views.
_LITERAL = re.compile(r"""\btr\(\s*(["'])((?:(?!\1).)+)\1""")


def _sentences() -> set[str]:
    found: set[str] = set()
    for path in [*CONSOLE.glob("templates/*.html"), *CONSOLE.glob("*.py")]:
        found |= {match.group(2) for match in _LITERAL.finditer(path.read_text())}
    return found


def test_every_console_sentence_has_a_dutch_translation() -> None:
    sentences = _sentences()
    assert len(sentences) > 50
    missing = sorted(s for s in sentences if s not in DUTCH)
    assert missing == []


def test_english_is_the_key_and_dutch_its_translation() -> None:
    assert tr("My next callbacks", "en") == "My next callbacks"
    assert tr("My next callbacks", "nl") == "Mijn volgende terugbelafspraken"


def test_every_state_shown_on_the_console_has_a_dutch_word() -> None:
    from callbacks.models import PromiseState
    from routing.models import AgentState

    assert all(state.value in DUTCH for state in [*PromiseState, *AgentState])
