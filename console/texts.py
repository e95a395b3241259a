"""Words of the console in Dutch and English: the gettext domain "console" under terugbel/locale/.

The message id is the English sentence: templates and views call `tr("My next callbacks")`, and
Flask-Babel picks the catalogue of the user's language (their choice, stored on the user;
console/views.py puts it on `g` for each request). A new sentence goes in the code as a `tr` call,
then `make messages` adds it to the catalogues, where it gets its Dutch (README, Development).
Words the console shows from data (a promise's or an agent's state, a contact's channel) are marked
in SHOWN_FROM_DATA so extraction keeps them; tests/unit/test_catalogues.py holds them to the enums.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    message_id("resolved"),
    message_id("resolved by another contact"),  # its reason
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
    message_id("agent's queues changed"),
    # callbacks.forecast.FORECAST_CAUSE
    message_id("agents away: cannot be reached in its window"),
    # callbacks.rebalance.NO_SLOT_WITH_ROOM
    message_id("capacity dropped and no slot with room in the coming days"),
)

# What the domain's validation says about a field (routing/queue_settings.py, callbacks/staffing.py):
# the English message is its id, so the console shows it in the user's language (`field_errors`).
# tests/unit/test_catalogues.py holds this list to those modules' messages.
DOMAIN_ERRORS = (
    # routing.queue_settings
    message_id("give a label of 1–120 characters"),
    message_id("a whole number of seconds from 0 to 3600"),
    message_id("a time like 08:30"),
    message_id("a time like 17:00"),
    message_id("must be after the opening time"),
    message_id("a date like 2026-12-24"),
    message_id("give a name of 1–120 characters"),
    message_id("that day is already closed"),
    message_id("a fraction above 0 and at most 1 (e.g. 0.3)"),
    message_id("a country code like NL or BE whose public holidays are known, or none"),
    message_id("a whole number of seconds from 60 to 7200"),
    message_id("a whole number of minutes from 0 to 240"),
    # callbacks.staffing
    message_id("choose an agent"),
    message_id("a date and time like 2026-11-23T08:00"),
    message_id("a date and time like 2026-11-23T17:00"),
    message_id("must be after the start, at most 16 hours later"),
    message_id("a whole number from 0 to 1000, or empty"),
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


def field_errors(errors: Mapping[str, str], fallbacks: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each field's validation message in the user's language: the message itself when it is a
    console message id, else the field's fallback sentence, else the message as the domain said it."""
    known = translations(CONSOLE_DOMAIN, DEFAULT_LANGUAGE)
    shown: dict[str, str] = {}
    for field, message in errors.items():
        if message in known:
            shown[field] = tr(message)
        elif fallbacks is not None and field in fallbacks:
            shown[field] = tr(fallbacks[field])
        else:
            shown[field] = message
    return shown
