"""Which texts are carrier keywords, and that no text of ours asks a caller to send one."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbacks.sms_replies import ReplyKind, parse_reply
from telephony.opt_out import OPT_IN_WORDS, OPT_OUT_WORDS, Keyword, keyword_of
from terugbel.i18n import catalogue

# Twilio's default keywords: the network acts on these whatever the application does.
TWILIO_OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
TWILIO_OPT_IN = {"START", "YES", "UNSTOP"}
spacing = st.text(alphabet=" \t\n", max_size=3)


def test_every_twilio_keyword_is_known() -> None:
    assert TWILIO_OPT_OUT <= OPT_OUT_WORDS and TWILIO_OPT_IN <= OPT_IN_WORDS
    assert not OPT_OUT_WORDS & OPT_IN_WORDS


@given(word=st.sampled_from(sorted(OPT_OUT_WORDS)), before=spacing, after=spacing, data=st.data())
def test_a_keyword_counts_in_any_case_with_spaces_around(
    word: str, before: str, after: str, data: st.DataObject
) -> None:
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in word)
    assert keyword_of(before + cased + after) is Keyword.OPT_OUT


@given(st.text(max_size=40))
def test_only_a_whole_message_is_a_keyword(body: str) -> None:
    keyword = keyword_of(body)
    if keyword is Keyword.OPT_OUT:
        assert body.strip().upper() in OPT_OUT_WORDS
    elif keyword is Keyword.OPT_IN:
        assert body.strip().upper() in OPT_IN_WORDS


@pytest.mark.parametrize("body", ["please stop calling me back at 3", "stop het", "cancel it please", "the end"])
def test_a_longer_message_with_a_keyword_in_it_is_no_opt_out(body: str) -> None:
    assert keyword_of(body) is None


@pytest.mark.parametrize("language", ["nl", "en"])
def test_no_text_suggests_a_carrier_keyword_as_a_reply(language: str) -> None:
    for key, sentence in catalogue()[language].items():
        if "sms" not in key:
            continue
        suggested = re.findall(r"\d = ([^,.]+)", sentence)  # "Reply 1 = ok, 2 = other time, 3 = call off."
        assert not [s for s in suggested if keyword_of(s) is not None], (key, sentence)


@pytest.mark.parametrize(("body", "kind"), [("3", ReplyKind.CANCEL), ("call off", ReplyKind.CANCEL),
                                            ("afzeggen", ReplyKind.CANCEL), ("2", ReplyKind.OTHER_TIME),
                                            ("later", ReplyKind.OTHER_TIME), ("ok", ReplyKind.CONFIRM)])  # fmt: skip
def test_the_suggested_replies_mean_what_they_say(body: str, kind: ReplyKind) -> None:
    assert parse_reply(body).kind is kind
