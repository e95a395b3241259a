# ruff: noqa: E501  (a catalogue reads better with each sentence on one line)
"""Every sentence of a callback call (agent whisper, caller, voicemail) and its SMS, in Dutch and English.

Merged into the catalogue by terugbel/i18n.py. Moments and windows are formatted in the caller's
zone before they are put in: "vandaag om 16:05", "vandaag tussen 14:30 en 14:45".
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "nl": {
        "cbd_whisper_keys": "Druk 1 om te verbinden, 2 om door te geven.",
        "cbd_agent_connecting": "U wordt verbonden met de klant. Een moment.",
        "cbd_agent_passed": "Doorgegeven aan een collega. Dank u.",
        "cbd_agent_released": "De klant is niet bereikt. U bent weer beschikbaar.",
        "cbd_agent_not_needed": "Deze terugbelafspraak is niet meer nodig. Dank u.",
        "cbd_agent_outcome": "Het gesprek is beëindigd. Druk 1 als de vraag is opgelost, 2 als er vervolg nodig is.",
        "cbd_agent_outcome_saved": "Vastgelegd. Dank u.",
        "cbd_caller_intro": "Goedendag, dit is de terugbelafspraak die u maakte met Terugbel over {problem}. U wordt nu verbonden.",
        "cbd_caller_intro_plain": "Goedendag, dit is de terugbelafspraak die u maakte met Terugbel. U wordt nu verbonden.",
        "cbd_caller_agent_gone": "Goedendag, u spreekt met Terugbel. Het lukt nu niet u te verbinden. We bellen u opnieuw {moment}.",
        "cbd_voicemail": "Goedendag, u spreekt met Terugbel over uw terugbelafspraak. We bellen u opnieuw {moment}. U krijgt dit ook per sms.",
        "cbd_voicemail_last": "Goedendag, u spreekt met Terugbel over uw terugbelafspraak. We konden u niet bereiken; u krijgt een sms met een nieuw tijdstip.",
        "cbd_sorry": "Excuses, er ging iets mis aan onze kant. U hoort per sms wanneer we u bellen.",
        "cbd_sms_next_attempt": "Terugbel: we konden u net niet bereiken. We bellen u opnieuw {moment} op {number}. Antwoord 2 = ander tijdstip, 3 = annuleren.",
        "cbd_sms_rebooked": "Terugbel: het is ons niet gelukt u {old_window} te bellen. We bellen u nu {window} op {number}. Antwoord 1 = ok, 2 = ander tijdstip, 3 = annuleren.",
        "cbd_sms_no_new_time": "Terugbel: het is ons niet gelukt u {old_window} te bellen en er is de komende dagen geen plek vrij. Bel ons gerust, dan helpen we u direct.",
        "cbd_sms_number_failed": "Terugbel: we konden u {old_window} niet bellen op {number}: dit nummer is niet bereikbaar. Bel ons gerust voor een nieuwe afspraak.",
    },
    "en": {
        "cbd_whisper_keys": "Press 1 to connect, 2 to pass.",
        "cbd_agent_connecting": "Connecting you to the caller. One moment.",
        "cbd_agent_passed": "Passed on to a colleague. Thank you.",
        "cbd_agent_released": "The caller was not reached. You are available again.",
        "cbd_agent_not_needed": "This callback is no longer needed. Thank you.",
        "cbd_agent_outcome": "The call has ended. Press 1 if the question is resolved, 2 if follow-up is needed.",
        "cbd_agent_outcome_saved": "Saved. Thank you.",
        "cbd_caller_intro": "Hello, this is the callback you booked with Terugbel about {problem}. Connecting you now.",
        "cbd_caller_intro_plain": "Hello, this is the callback you booked with Terugbel. Connecting you now.",
        "cbd_caller_agent_gone": "Hello, this is Terugbel. We cannot connect you right now. We will call you again {moment}.",
        "cbd_voicemail": "Hello, this is Terugbel about your callback. We will call you again {moment}. You will get this by text too.",
        "cbd_voicemail_last": "Hello, this is Terugbel about your callback. We could not reach you; you will get a text with a new time.",
        "cbd_sorry": "Sorry, something went wrong on our side. We will text you when we call you.",
        "cbd_sms_next_attempt": "Terugbel: we just could not reach you. We will call you again {moment} on {number}. Reply 2 = other time, 3 = cancel.",
        "cbd_sms_rebooked": "Terugbel: we did not manage to call you {old_window}. We will now call you {window} on {number}. Reply 1 = ok, 2 = other time, 3 = cancel.",
        "cbd_sms_no_new_time": "Terugbel: we did not manage to call you {old_window} and no time is free in the coming days. Please call us and we will help you straight away.",
        "cbd_sms_number_failed": "Terugbel: we could not call you {old_window} on {number}: the number cannot be reached. Please call us to book a new time.",
    },
}
