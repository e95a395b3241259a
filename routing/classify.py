"""What the caller's words are about: phrase and keyword scoring against the intents' phrases.

Pure: the intents come in as plain data. A phrase heard whole scores 1; otherwise the share of the
phrase's keywords heard (a Dutch compound such as "internetstoring" counts for "internet" at 0.8).
Twilio's speech Confidence weighs the score: badly heard words are confirmed, not trusted.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

SURE_SCORE = 0.75  # at or above, with a clear lead over the runner-up: route without asking
SURE_LEAD = 0.2
CANDIDATE_SCORE = 0.3  # at or above: worth one confirmation question
COMPOUND_PART = 0.8
MIN_COMPOUND_PART = 4  # letters a keyword needs before it counts inside a longer word

STOPWORDS = frozenset(
    [
        "de",
        "het",
        "een",
        "en",
        "of",
        "maar",
        "mijn",
        "me",
        "mij",
        "ik",
        "u",
        "uw",
        "je",
        "jij",
        "we",
        "wij",
        "ze",
        "zij",
        "hij",
        "is",
        "zijn",
        "was",
        "ben",
        "bent",
        "heb",
        "heeft",
        "hebben",
        "niet",
        "geen",
        "wel",
        "nog",
        "al",
        "met",
        "van",
        "voor",
        "naar",
        "op",
        "in",
        "aan",
        "om",
        "over",
        "bij",
        "uit",
        "dat",
        "die",
        "dit",
        "deze",
        "er",
        "ook",
        "dan",
        "als",
        "wat",
        "hoe",
        "waarom",
        "graag",
        "even",
        "toch",
        "want",
        "door",
        "te",
        "tot",
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "my",
        "me",
        "i",
        "you",
        "your",
        "we",
        "they",
        "he",
        "she",
        "it",
        "is",
        "are",
        "was",
        "be",
        "been",
        "have",
        "has",
        "had",
        "not",
        "no",
        "yes",
        "still",
        "with",
        "of",
        "for",
        "to",
        "on",
        "in",
        "at",
        "about",
        "by",
        "from",
        "that",
        "this",
        "these",
        "there",
        "also",
        "then",
        "if",
        "what",
        "how",
        "why",
        "please",
        "just",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
    ]
)
YES = frozenset({"ja", "jawel", "klopt", "correct", "precies", "juist", "yes", "yeah", "right", "yep"})
NO = frozenset({"nee", "neen", "niet", "fout", "no", "nope", "wrong", "incorrect"})


@dataclass(frozen=True)
class IntentPhrases:
    name: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Classification:
    intent: str | None  # the best candidate, None when nothing matched enough
    score: float
    sure: bool
    runner_up: str | None = None


def normalise(text: str | None) -> str:
    """Lower case, accents and punctuation gone, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


def keywords(text: str) -> list[str]:
    return [word for word in normalise(text).split() if word not in STOPWORDS]


def phrase_score(phrase: str, heard: str) -> float:
    """1 when the phrase is heard whole, else the share of its keywords heard (compounds at 0.8)."""
    wanted = normalise(phrase)
    if not wanted:
        return 0.0
    if f" {wanted} " in f" {heard} ":
        return 1.0
    words = keywords(wanted)
    if not words:
        return 0.0
    heard_words = set(heard.split())
    total = 0.0
    for word in words:
        if word in heard_words:
            total += 1.0
        elif len(word) >= MIN_COMPOUND_PART and any(word in other and other != word for other in heard_words):
            total += COMPOUND_PART
    return total / len(words)


def classify(text: str | None, intents: Sequence[IntentPhrases], confidence: float | None = None) -> Classification:
    """Score `text` against every intent's phrases and say whether the best is sure."""
    heard = normalise(text)
    if not heard or not intents:
        return Classification(intent=None, score=0.0, sure=False)
    known = confidence if confidence is not None and math.isfinite(confidence) else None
    weight = 0.5 + 0.5 * min(max(known, 0.0), 1.0) if known is not None else 1.0
    scored = sorted(
        (
            (max((phrase_score(p, heard) for p in intent.phrases), default=0.0) * weight, intent.name)
            for intent in intents
        ),
        key=lambda pair: (-pair[0], pair[1]),
    )
    best_score, best = scored[0]
    runner_score, runner = scored[1] if len(scored) > 1 else (0.0, None)
    if best_score < CANDIDATE_SCORE:
        return Classification(intent=None, score=best_score, sure=False)
    sure = best_score >= SURE_SCORE and best_score - runner_score >= SURE_LEAD
    return Classification(
        intent=best, score=best_score, sure=sure, runner_up=runner if runner_score >= CANDIDATE_SCORE else None
    )


# Words that ask to be called back ("bel me morgen terug", "call me back at ten"), normalised.
_CALLBACK_WORDS = re.compile(
    r"\b(terug ?bel\w*|bel (me|mij|ons)( \w+){0,5} terug|belt u (me|mij)|(call|ring) (me|us) back|call ?back)\b"
)


def asks_for_callback(text: str | None) -> bool:
    """Whether the words ask to be called back (the time they name is callbacks.timeparse's)."""
    return bool(_CALLBACK_WORDS.search(normalise(text)))


def yes_or_no(text: str | None) -> bool | None:
    """True for a spoken yes, False for a no ("dat klopt niet" is a no), None when it is neither."""
    words = set(normalise(text).split())
    if words & NO:
        return False
    if words & YES:
        return True
    return None
