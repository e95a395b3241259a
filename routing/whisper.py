"""What an agent hears of a caller before answering: who, about what, which contact this week.

Two sentences: for a caller waiting in a queue (inbound), and for the caller of a booked callback.

Pure: the caller's name, their problem in a few words and their history come in as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass

from terugbel.i18n import message_id, t

WHISPER_PROBLEM_LIMIT = 80  # characters of the caller's own words the agent hears
# "first" to "fifth" contact as words; beyond that a number ("6th").
ORDINALS = (
    message_id("whisper_ordinal_1"),
    message_id("whisper_ordinal_2"),
    message_id("whisper_ordinal_3"),
    message_id("whisper_ordinal_4"),
    message_id("whisper_ordinal_5"),
)


@dataclass(frozen=True)
class Whisper:
    """The sentence an agent hears before a caller is put through, and its language."""

    text: str
    language: str


def inbound_whisper_text(language: str, *, name: str | None, problem: str | None, repeat_count: int) -> str:
    """Say who calls, about what, and which contact this week it is (a caller waiting in a queue)."""
    nth_number = repeat_count + 1
    nth = (
        t(language, ORDINALS[nth_number - 1])
        if nth_number <= len(ORDINALS)
        else t(language, "whisper_ordinal_many", n=nth_number)
    )
    return t(
        language,
        "whisper_inbound",
        name=name or t(language, "whisper_unknown_caller"),
        problem=problem or t(language, "whisper_no_problem"),
        nth=nth,
    )


def callback_whisper_text(
    language: str, *, name: str | None, problem: str | None, topic: str | None, earlier_contacts: int
) -> str:
    """Say whose callback this is, about what, and how many contacts about `topic` came before it."""
    problem = (problem or "").strip() or t(language, "whisper_callback_no_problem")
    topic = topic or problem
    if earlier_contacts == 0:
        history = t(language, "whisper_history_first")
    elif earlier_contacts == 1:
        history = t(language, "whisper_history_second", topic=topic)
    elif earlier_contacts == 2:
        history = t(language, "whisper_history_third", topic=topic)
    else:
        history = t(language, "whisper_history_many", topic=topic, count=earlier_contacts + 1)
    who = name or t(language, "whisper_callback_unknown_caller")
    return t(language, "whisper_callback", who=who, problem=problem, history=history)
