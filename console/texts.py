"""Words of the console in Dutch and English: the gettext domain "console" under terugbel/locale/.

The message id is the English sentence: templates and views call `tr("My next callbacks")`, and
Flask-Babel picks the catalogue of the user's language (their choice, stored on the user;
console/views.py puts it on `g` for each request). A new sentence goes in the code as a `tr` call,
then `make messages` adds it to the catalogues, where it gets its Dutch (README, Development).
Words the console shows from data (a promise's or an agent's state, a contact's channel) are marked
in SHOWN_FROM_DATA so extraction keeps them; tests/unit/test_catalogues.py holds them to the enums.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context
from flask_babel import Babel, gettext

from terugbel.i18n import CONSOLE_DOMAIN, DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR, message_id, translations

SHOWN_FROM_DATA = (
    # callbacks.models.PromiseState
    message_id("booked"),
    message_id("dialling"),
    message_id("connected"),
    message_id("completed"),
    message_id("missed"),
    message_id("cancelled"),
    message_id("moved"),
    message_id("failed"),
    # routing.models.AgentState
    message_id("available"),
    message_id("away"),
    message_id("reserved"),
    message_id("on_call"),
    message_id("wrap_up"),
    # routing.models.ContactChannel
    message_id("call"),
    message_id("callback"),
    message_id("sms"),
    message_id("web"),
    # callbacks.replanning.ReplanCause: why a promise was moved by us (its reason on the board)
    message_id("queue settings changed"),
    message_id("callback share changed"),
    message_id("slot length changed"),
    message_id("opening hours changed"),
    message_id("closed day added"),
    message_id("closed day removed"),
    message_id("shift added"),
    message_id("shift removed"),
    message_id("slot capacity changed"),
    message_id("agent deactivated"),
    # callbacks.forecast.FORECAST_CAUSE
    message_id("agents away: cannot be reached in its window"),
    # callbacks.rebalance.NO_SLOT_WITH_ROOM
    message_id("capacity dropped and no slot with room in the coming days"),
)


def ui_language() -> str:
    if has_request_context():
        lang = g.get("ui_language")
        if lang in LANGUAGES:
            return str(lang)
    return DEFAULT_LANGUAGE


def init_translations(app: Flask) -> None:
    """Let Flask-Babel translate the console in each user's language."""
    Babel(
        app,
        locale_selector=ui_language,
        default_domain=CONSOLE_DOMAIN,
        default_translation_directories=str(LOCALE_DIR),
    )


def tr(text: str, lang: str | None = None) -> str:
    """The console sentence `text` in the user's language (or in `lang`); English is the id itself."""
    if lang is None and has_request_context():
        return gettext(text)
    return translations(CONSOLE_DOMAIN, lang or ui_language()).get(text, text)
