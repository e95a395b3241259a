"""Words of the console in Dutch and English: the gettext domain "console" under terugbel/locale/.

The message id is the English sentence: templates and views call `tr("My next callbacks")`, and
Flask-Babel picks the catalogue of the user's language (their choice, stored on the user;
console/views.py puts it on `g` for each request). A new sentence goes in the code as a `tr` call,
then `make messages` adds it to the catalogues, where it gets its Dutch (README, Development).
Words the console shows from data (a promise's or an agent's state, a contact's channel) are marked
in SHOWN_FROM_DATA so extraction keeps them; tests/unit/test_catalogues.py holds them to the enums.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from flask import Flask, g, has_request_context
from flask_babel import Babel, gettext

from callbacks.attempts import CallerResult
from routing.phrases import Phrase, render_all
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
    # console.models.Role
    message_id("agent"),
    message_id("supervisor"),
    message_id("admin"),
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
    # routing.agents: an agent choosing their state
    message_id("must be available or away"),
    message_id("you are on a call; change your state after it"),
    message_id("the agent's state kept changing meanwhile; try again"),
)

# Why a contact goes where it goes (routing/decision.py, routing/dry_run.py): the templates of their
# phrases (routing/phrases.py), so the dry run explains itself in the user's language (`explained`).
# tests/unit/test_catalogues.py holds this list to the templates those modules use.
RULE_PHRASES = (
    # routing.rule_validation: why a rule set may not go live
    message_id("unknown queue '{name}'"),
    message_id("unknown or inactive agent id {id}"),
    message_id("unknown intent(s): {name}"),
    message_id("{unknown} (known: {names})"),
    message_id("can never match: rule {position} '{rule}' matches every call this rule matches and stops evaluating"),
    # routing.rule_parsing: a rule set's JSON that does not read as rules
    message_id("must be a list of rules"),
    message_id("must be an object with name, conditions and actions"),
    message_id("a rule needs a name"),
    message_id("at most 120 characters"),
    message_id("at most 500 characters"),
    message_id("must be true or false"),
    message_id("must be true (leave it out otherwise)"),
    message_id('a rule needs at least one condition (use {{"always": true}} for every call)'),
    message_id("always cannot be combined with other conditions"),
    message_id("contradicts queue_open on the same queue: never both"),
    message_id('must be {{"weekdays": [...], "from": "HH:MM", "to": "HH:MM"}}'),
    message_id("unknown field(s): {fields}"),
    message_id("unknown field (expected one of {fields})"),
    message_id("unknown condition (expected one of {fields})"),
    message_id("unknown action (expected one of {fields})"),
    message_id("unknown language(s): {values}"),
    message_id("unknown region code: {values}"),
    message_id("not an international prefix like +3130: {values}"),
    message_id("must be one of {choices}"),
    message_id("name at least one weekday (0 = Monday … 6 = Sunday, or mon…sun)"),
    message_id("not a weekday: {day} (0 = Monday … 6 = Sunday, or mon…sun)"),
    message_id(
        "the window ends ({end}) before it starts ({start}): it can never hold; split a window past midnight into"
        " two rules"
    ),
    message_id("must be a time like 09:00 (24-hour clock)"),
    message_id("must be a non-empty list"),
    message_id("every entry must be a non-empty text"),
    message_id("must be a whole number from {low} to {high}"),
    message_id("a rule needs at least one action"),
    message_id('must be {{"nl": "...", "en": "..."}}'),
    message_id("the name is already used by rule {position}"),
    message_id("must be a queue name"),
    message_id("must be a queue name, or true for the queue chosen so far"),
    message_id("must be an agent id"),
    message_id("the announcement is needed in both nl and en"),
    # the dry run's own fields
    message_id("must be a date and time like 2026-11-23T14:30"),
    message_id("unknown intent '{name}'"),
    # the decision
    message_id("→ {queue}"),
    message_id("→ {queue}, {agent} first (up to {seconds} s)"),
    message_id("{where} (built-in): {why}"),
    message_id("{where} (rule '{rule}'): {why}"),
    message_id("{where} (rule '{rule}')"),
    # built-in behaviour
    message_id("intent {intent} goes to {queue}"),
    message_id("default queue {queue}"),
    message_id("repeat contact ({nth} in {days} days)"),
    message_id("{n}st"),
    message_id("{n}nd"),
    message_id("{n}rd"),
    message_id("{n}th"),
    message_id("repeat contact, last handled by {agent} in {queue}"),
    message_id("repeat contact, {agent} is not on shift, so the same team {queue}"),
    message_id("repeat contact, back to the same team {queue}"),
    message_id("an unresolved contact"),
    message_id("VIP"),
    message_id("priority {priority} (built-in): {reasons}"),
    # rules: skipped, what held, what they did
    message_id("rule '{rule}' skipped: {why}"),
    message_id("queue '{queue}' no longer exists"),
    message_id("agent {agent} no longer works here"),
    message_id("applies to every call"),
    message_id("intent is {intent}"),
    message_id("language is {language}"),
    message_id("caller is VIP"),
    message_id("caller is not VIP"),
    message_id("{count} earlier contact(s) in {days} days"),
    message_id("has an open callback"),
    message_id("has no open callback"),
    message_id("matches an active incident"),
    message_id("matches no incident"),
    message_id("number starts with {prefix}"),
    message_id("number is from {region}"),
    message_id("{day} {time} is within {window}"),
    message_id("mon"),
    message_id("tue"),
    message_id("wed"),
    message_id("thu"),
    message_id("fri"),
    message_id("sat"),
    message_id("sun"),
    message_id("wait for {queue} is {wait} s (over {limit} s)"),
    message_id("{queue} is open"),
    message_id("{queue} is closed"),
    message_id("rule '{rule}': {did}"),
    message_id("rule '{rule}' ({why}): {did}"),
    message_id("rule '{rule}' ({why}) overruled by a later rule"),
    message_id("{agent} is not on shift, so any agent of {queue}"),
    message_id("priority set to {priority}"),
    message_id("priority raised to {priority}"),
    message_id("offer a callback first"),
    message_id("no callback offer first"),
    message_id("play its announcement"),
    message_id("stop"),
    # the open queue or the callback
    message_id("{queue} is closed, so its overflow {overflow}"),
    message_id("{queue} is closed: offer a callback"),
    message_id("wait {wait} s is over {limit} s: offer a callback first"),
    # routing.dry_run
    message_id(
        "the words only suggest {intent}: a call first asks the caller to confirm it, and goes here when they say yes"
    ),
)

# Why a promise failed, was missed, moved or cancelled (its reason on the board), as callbacks/
# writes it; "{name}" is a detail the reason carries (`promise_reason` reads it back).
# tests/unit/test_catalogues.py holds this list to the reasons callbacks/ and ivr/ write.
PROMISE_REASONS = (
    # callbacks.attempts: why an attempt gave up
    message_id("{count} attempts without reaching the caller (last: {result})"),
    message_id("{count} attempts ended {result}"),
    message_id("no time left in the window after {result}"),
    message_id("no agent free before the end of the window"),
    message_id("the phone network refused {count} times until the window passed"),
    message_id("the window passed before the dial"),
    message_id("caller leg lost after the window"),
    message_id("too late in the window to dial"),
    message_id("too late in the window for another agent"),
    message_id("caller leg lost too late in the window"),
    message_id("invalid number: {detail}"),
    # callbacks.attempts.CallerResult: how a dial to the caller ended ("failed" is a promise state too)
    message_id("human"),
    message_id("voicemail"),
    message_id("busy"),
    message_id("no_answer"),
    # moved or cancelled by the caller, by another contact, through the API
    message_id("moved by caller"),
    message_id("moved by SMS"),
    message_id("booked again"),
    message_id("cancelled by SMS"),
    message_id("cancelled by the caller in the menu"),
    message_id("resolved by another contact"),
    message_id("cancelled via API ({who})"),
    message_id("moved via API ({who})"),
)


# What an audit entry records (terugbel/audit.py `record_audit`'s action), said in words where the
# console shows the log; tests/unit/test_audit_words.py holds this to every action the code records.
AUDIT_ACTIONS = {
    "agent.create": message_id("agent added"),
    "agent.update": message_id("agent changed"),
    "caller.erased": message_id("caller erased"),
    "caller.update": message_id("caller changed"),
    "contact.outcome": message_id("outcome recorded"),
    "holiday.add": message_id("closed day added"),
    "holiday.delete": message_id("closed day removed"),
    "incident.create": message_id("incident published"),
    "incident.resolve": message_id("incident resolved"),
    "intent.create": message_id("intent added"),
    "intent.delete": message_id("intent removed"),
    "intent.update": message_id("intent changed"),
    "promise_at_risk": message_id("callback at risk"),
    "queue.create": message_id("queue added"),
    "queue.hours": message_id("opening hours changed"),
    "queue.update": message_id("queue settings changed"),
    "routing.rules.publish": message_id("routing rules published"),
    "routing.rules.rollback": message_id("routing rules rolled back"),
    "shift.add": message_id("shift added"),
    "shift.delete": message_id("shift removed"),
    "slot.capacity": message_id("slot capacity changed"),
    "token.create": message_id("API token created"),
    "token.revoke": message_id("API token revoked"),
    "user.create": message_id("user added"),
    "user.unlock": message_id("user unlocked"),
}
# The subjects the console shows, "{...}" the detail each carries.
AUDIT_SUBJECTS = (message_id("rule set version {version}"),)


# How each number on the metrics page is counted (console/metrics.py computes them), said on the page
# so a supervisor can check it by hand: the one place these definitions are written.
METRIC_DEFINITIONS = (
    (
        message_id("Calls"),
        message_id("Contacts on the phone that started in the period."),
    ),
    (
        message_id("First-contact resolution"),
        message_id(
            "Of the contacts of a known caller that started in the period and came to an end the caller could use"
            " (an agent, a booked callback, an answer from the menu, an incident message), the share with no "
            "repeat within the repeat window: not marked follow-up by the agent, and no later contact of the same"
            " caller in that window about the same intent (any later contact when the intent is unknown). A "
            "contact whose window is still running, with nothing after it and not marked resolved, is left out "
            "until its window is over. A kept callback is the same contact as the call that booked it: it is "
            "neither counted on its own nor a later contact, and how its agent marked it is how that contact "
            "ended. A call whose callback was closed because the caller got through another way was not resolved "
            "the first time."
        ),
    ),
    (
        message_id("Repeat-contact rate"),
        message_id(
            "Of the contacts of a known caller that started in the period, the share that repeat an earlier "
            "contact within the repeat window (the same intent, or an earlier one left unresolved): the rule "
            "routing uses to send a caller back to the same agent. A kept callback repeats nothing: it is its "
            "booking call's contact."
        ),
    ),
    (
        message_id("Promises due"),
        message_id(
            "Callbacks whose window starts in the period, that were not cancelled, replaced by a move or resolved"
            " by another contact, and whose window is over or that were dialled. Kept: first dialled inside the "
            "window. Connected: the caller and an agent were put through. Late: first dialled after the window "
            "ended; the average lateness is over the dialled ones (0 for a dial inside the window)."
        ),
    ),
    (
        message_id("Resolved by another contact"),
        message_id(
            "Callbacks whose window starts in the period, closed because the caller reached an agent another way "
            "while the callback was pending."
        ),
    ),
    (
        message_id("Moved by us"),
        message_id("Callbacks whose window starts in the period that we moved (capacity fell, agents away)."),
    ),
    (
        message_id("Seconds to routed"),
        message_id("The mean time from answering the call to the routing decision."),
    ),
    (
        message_id("Questions in the menu"),
        message_id("The mean number of questions the menu asked per call."),
    ),
    (
        message_id("Informed by incident"),
        message_id("Calls that ended with the incident message (not a failure)."),
    ),
    (
        message_id("Abandoned"),
        message_id("Calls the caller ended in the menu (before routing) or in the queue (after)."),
    ),
    (
        message_id("Queues"),
        message_id("Contacts count for the queue they were routed to (or no queue), callbacks for their queue."),
    ),
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


def explained(parts: Iterable[Phrase]) -> str:
    """A routing explanation (its phrases) in the user's language; the API keeps the English text."""
    return render_all(parts, tr)


def _reason_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"{(\w+)}", template)  # text, name, text, name, ..., text
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)))


_REASON_PATTERNS = tuple((t, _reason_pattern(t)) for t in [*PROMISE_REASONS, *SHOWN_FROM_DATA] if "{" in t)
_SUBJECT_PATTERNS = tuple((t, _reason_pattern(t)) for t in AUDIT_SUBJECTS)
_DIAL_RESULTS = frozenset(result.value for result in CallerResult)


def promise_reason(reason: str) -> str:
    """A promise's stored reason in the user's language: a known reason, or a known reason with its
    details (a dial result said in words, a number or a name as it is); any other text as written."""
    for template, pattern in _REASON_PATTERNS:
        match = pattern.fullmatch(reason)
        if match is not None:
            details = {k: tr(v) if v in _DIAL_RESULTS else v for k, v in match.groupdict().items()}
            return tr(template).format(**details)
    return tr(reason)


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


def audit_action(action: str) -> str:
    """What an audit entry records, in the user's language (an action the code no longer writes as it is)."""
    return tr(AUDIT_ACTIONS[action]) if action in AUDIT_ACTIONS else action


def audit_subject(subject: str) -> str:
    """What an audit entry is about, in the user's language: a known subject with its detail, or as written."""
    for template, pattern in _SUBJECT_PATTERNS:
        match = pattern.fullmatch(subject)
        if match is not None:
            return tr(template).format(**match.groupdict())
    return subject
