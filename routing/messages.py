# ruff: noqa: E501  (a catalogue reads better with each sentence on one line)
"""Sentences of routing, in Dutch and English: what an agent hears of a caller before answering,
and the text that tells a caller an incident is over.

Merged into the catalogue by terugbel/i18n.py.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "nl": {
        "whisper_inbound": "{name}, {problem}, {nth} contact deze week. Toets 1 om het gesprek aan te nemen.",
        "whisper_unknown_caller": "Onbekende beller",
        "whisper_no_problem": "geen onderwerp genoemd",
        "whisper_ordinal_1": "eerste",
        "whisper_ordinal_2": "tweede",
        "whisper_ordinal_3": "derde",
        "whisper_ordinal_4": "vierde",
        "whisper_ordinal_5": "vijfde",
        "whisper_ordinal_many": "{n}e",
        "whisper_callback": "Terugbelafspraak met {who}, over: {problem}. {history}",
        "whisper_callback_unknown_caller": "een onbekende beller",
        "whisper_callback_no_problem": "geen omschrijving",
        "whisper_history_first": "Eerste contact deze week.",
        "whisper_history_second": "Tweede contact deze week over {topic}.",
        "whisper_history_third": "Derde contact deze week over {topic}.",
        "whisper_history_many": "Al {count} contacten deze week over {topic}.",
        "incident_resolved_sms": "Terugbel: de storing waarover u belde is opgelost. Nog steeds problemen? Bel ons gerust.",
    },
    "en": {
        "whisper_inbound": "{name}, {problem}, {nth} contact this week. Press 1 to take the call.",
        "whisper_unknown_caller": "Unknown caller",
        "whisper_no_problem": "no subject given",
        "whisper_ordinal_1": "first",
        "whisper_ordinal_2": "second",
        "whisper_ordinal_3": "third",
        "whisper_ordinal_4": "fourth",
        "whisper_ordinal_5": "fifth",
        "whisper_ordinal_many": "{n}th",
        "whisper_callback": "Callback with {who}, about: {problem}. {history}",
        "whisper_callback_unknown_caller": "an unknown caller",
        "whisper_callback_no_problem": "no description",
        "whisper_history_first": "First contact this week.",
        "whisper_history_second": "Second contact this week about {topic}.",
        "whisper_history_third": "Third contact this week about {topic}.",
        "whisper_history_many": "{count} contacts this week about {topic}.",
        "incident_resolved_sms": "Terugbel: the outage you called about is fixed. Still having trouble? Please call us.",
    },
}
