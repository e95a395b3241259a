"""Sentences the domain tells supervisors (why a contact went where it went), kept as an English
template and its values so each reader gets them in their language.

`phrase("intent {intent} goes to {queue}", intent="factuur", queue="facturen")` renders as that
English sentence for the API and the stored contact; the console renders the same phrase with
each template translated (console/texts.py lists the templates, message id = the English template).
A value is plain data (a name, a number: never translated), another phrase, or a tuple of phrases
(said as a list, ", " between them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias


def _as_written(template: str) -> str:
    return template


@dataclass(frozen=True, slots=True)
class Phrase:
    template: str  # English, with {name} for each value
    values: tuple[tuple[str, PhraseValue], ...] = ()

    def render(self, translate: Callable[[str], str] = _as_written) -> str:
        """The sentence with each template (this one and its values') passed through `translate`."""
        filled = {name: _render(value, translate) for name, value in self.values}
        return translate(self.template).format(**filled)

    def __str__(self) -> str:
        return self.render()


PhraseValue: TypeAlias = str | int | Phrase | tuple[Phrase, ...]


def phrase(template: str, **values: PhraseValue) -> Phrase:
    return Phrase(template, tuple(values.items()))


def render_all(parts: Iterable[Phrase], translate: Callable[[str], str] = _as_written, sep: str = "; ") -> str:
    """Several phrases as one text (an explanation is its parts with "; " between them)."""
    return sep.join(part.render(translate) for part in parts)


def _render(value: PhraseValue, translate: Callable[[str], str]) -> str:
    if isinstance(value, Phrase):
        return value.render(translate)
    if isinstance(value, tuple):
        return render_all(value, translate, ", ")
    return str(value)
