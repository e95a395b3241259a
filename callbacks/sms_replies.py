"""What a caller's SMS reply means: keep, another time, cancel, a pick from an offer, or a time.

"1 = ok, 2 = ander tijdstip, 3 = annuleren" — digits and words in Dutch and English, case,
spacing and punctuation forgiven. The texts never suggest a carrier keyword (STOP, CANCEL...): a
message that is only such a word opts the number out (telephony/opt_out.py) before it gets here.
Pure; the conversation itself lives in callbacks/sms_conversation.py.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass


class ReplyKind(enum.StrEnum):
    CONFIRM = "confirm"
    OTHER_TIME = "other_time"
    CANCEL = "cancel"
    PICK = "pick"  # a number choosing one of the windows we offered
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    choice: int | None = None  # for PICK: 1-based position in the offer


_CONFIRM = {
    "1", "ok", "okay", "oke", "oké", "okee", "ja", "yes", "y", "j", "prima", "goed", "akkoord",
    "bevestig", "bevestigen", "confirm", "confirmed", "fine", "sure", "klopt", "top", "yep", "jep",
}  # fmt: skip
_OTHER_TIME = {
    "2", "ander tijdstip", "andere tijd", "ander moment", "verzetten", "verplaatsen", "later",
    "other time", "another time", "different time", "other", "another", "change", "move",
    "reschedule", "ander", "andere",
}  # fmt: skip
_CANCEL = {
    "3", "annuleren", "annuleer", "annulering", "cancel", "cancelled", "stop", "stoppen", "nee",
    "no", "niet nodig", "not needed", "afzeggen", "geannuleerd", "hoeft niet", "never mind",
    "call off", "call it off",
}  # fmt: skip


def normalise(text: str) -> str:
    """Lower case, accents and punctuation at the ends dropped, inner spacing collapsed."""
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    text = re.sub(r"^[\s\W_]+|[\s\W_]+$", "", text)
    return " ".join(text.split())


def parse_reply(body: str, *, offered: int = 0) -> Reply:
    """Return what the reply asks for; with `offered` windows pending, a digit picks one of them."""
    text = normalise(body)
    if offered and re.fullmatch(r"\d", text) and 1 <= int(text) <= offered:
        return Reply(ReplyKind.PICK, int(text))
    # "1 ok", "1 = ok" and "1." all mean 1: a leading digit decides.
    leading = re.match(r"^([1-3])(?:\b|$)", text)
    if leading and not offered:
        return Reply({"1": ReplyKind.CONFIRM, "2": ReplyKind.OTHER_TIME, "3": ReplyKind.CANCEL}[leading.group(1)])
    for words, kind in _KINDS:
        if text in words:
            return Reply(kind)
    # "other time please", "ja graag": a longer text counts when it names exactly one thing.
    found = {kind for words, kind in _KINDS for word in words if not word.isdigit() and _has_phrase(text, word)}
    if len(found) == 1:
        return Reply(found.pop())
    return Reply(ReplyKind.UNKNOWN)


_KINDS = ((_CONFIRM, ReplyKind.CONFIRM), (_OTHER_TIME, ReplyKind.OTHER_TIME), (_CANCEL, ReplyKind.CANCEL))


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None
