"""SMS replies: digits and words in both languages, case and spacing forgiven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbacks.sms_replies import Reply, ReplyKind, parse_reply


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("1", ReplyKind.CONFIRM),
        (" 1 ", ReplyKind.CONFIRM),
        ("1.", ReplyKind.CONFIRM),
        ("1 = ok", ReplyKind.CONFIRM),
        ("OK", ReplyKind.CONFIRM),
        ("Ja!", ReplyKind.CONFIRM),
        ("yes", ReplyKind.CONFIRM),
        ("Oké", ReplyKind.CONFIRM),
        ("2", ReplyKind.OTHER_TIME),
        ("ander tijdstip", ReplyKind.OTHER_TIME),
        ("Ander   Tijdstip", ReplyKind.OTHER_TIME),
        ("other time", ReplyKind.OTHER_TIME),
        ("Other time please", ReplyKind.OTHER_TIME),
        ("ja graag", ReplyKind.CONFIRM),
        ("nee, annuleren maar", ReplyKind.CANCEL),
        ("ok, cancel", ReplyKind.UNKNOWN),  # names two things: ask again
        ("3", ReplyKind.CANCEL),
        ("annuleren", ReplyKind.CANCEL),
        ("ANNULEREN.", ReplyKind.CANCEL),
        ("cancel", ReplyKind.CANCEL),
        ("Stop", ReplyKind.CANCEL),
        ("4", ReplyKind.UNKNOWN),
        ("wat?", ReplyKind.UNKNOWN),
        ("", ReplyKind.UNKNOWN),
    ],
)
def test_reply_meanings(body: str, kind: ReplyKind) -> None:
    assert parse_reply(body).kind is kind


def test_with_an_offer_pending_a_digit_picks_a_window() -> None:
    assert parse_reply("2", offered=3) == Reply(ReplyKind.PICK, 2)
    assert parse_reply(" 3 ", offered=3) == Reply(ReplyKind.PICK, 3)
    assert parse_reply("ok", offered=3).kind is ReplyKind.CONFIRM
    assert parse_reply("annuleren", offered=3).kind is ReplyKind.CANCEL
    assert parse_reply("4", offered=3).kind is ReplyKind.UNKNOWN


@given(st.text(max_size=40), st.integers(min_value=0, max_value=3))
def test_any_text_has_one_meaning(body: str, offered: int) -> None:
    reply = parse_reply(body, offered=offered)
    assert (reply.kind is ReplyKind.PICK) == (reply.choice is not None)
    if reply.choice is not None:
        assert 1 <= reply.choice <= offered
