"""Every sentence the callbacks package puts in front of a caller, in Dutch and English.

Merged into the catalogue by terugbel/i18n.py. Windows are formatted with i18n.format_window in the
caller's zone before they are put in: "vandaag tussen 14:30 en 14:45".
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "nl": {
        "cb_sms_confirmation": (
            "Terugbel: we bellen u {window} op {number} over: {problem}. "
            "Antwoord 1 = ok, 2 = ander tijdstip, 3 = annuleren."
        ),
        "cb_sms_confirmation_plain": (
            "Terugbel: we bellen u {window} op {number}. Antwoord 1 = ok, 2 = ander tijdstip, 3 = annuleren."
        ),
        "cb_sms_confirmed": "Dank u. We bellen u {window} op {number}.",
        "cb_sms_offer": (
            "Kies een nieuw tijdstip: {choices}. Antwoord met het nummer, "
            "of stuur een tijd, bijvoorbeeld 'morgen om 10:00'."
        ),
        "cb_sms_offer_choice": "{choice} = {window}",
        "cb_sms_no_other_time": "Er is nu geen ander tijdstip vrij. We bellen u zoals afgesproken {window}.",
        "cb_sms_moved": (
            "Verzet: we bellen u nu {window} op {number}. Antwoord 1 = ok, 2 = ander tijdstip, 3 = annuleren."
        ),
        "cb_sms_cancelled": "Uw terugbelafspraak van {window} is geannuleerd. U kunt ons altijd opnieuw bellen.",
        "cb_sms_help": "Antwoord 1 = ok, 2 = ander tijdstip, 3 = annuleren. We bellen u {window}.",
        "cb_sms_try_again": "Excuses, uw antwoord kwam even niet door. Stuur het over een paar minuten nog eens.",
        "cb_sms_unknown_sender": (
            "Voor dit nummer staat geen terugbelafspraak. Bel ons en kies 'terugbellen' om er een te maken."
        ),
        "cb_sms_moved_by_us": (
            "Terugbel: door een roosterwijziging bellen we u niet {old_window}, maar {window} op {number}. "
            "Antwoord 1 = ok, 2 = ander tijdstip, 3 = annuleren."
        ),
        "cb_sms_cannot_keep": (
            "Terugbel: door een roosterwijziging kunnen we u {old_window} helaas niet bellen en is er de "
            "komende dagen geen plek vrij. Bel ons gerust, dan helpen we u direct."
        ),
        "cb_sms_resolved": (
            "Uw vraag is in uw gesprek met ons behandeld, dus we bellen u niet meer {window}. "
            "Nog iets? Bel ons gerust."
        ),
        "cb_sms_reminder": (
            "Herinnering: we bellen u {window} op {number}. Antwoord 2 = ander tijdstip, 3 = annuleren."
        ),
        "cb_number_invalid": "Dat nummer kunnen we niet bellen: het is geen geldig telefoonnummer.",
        "cb_number_not_mobile": "Op dat nummer kunnen we geen sms sturen: geef een mobiel nummer.",
        "cb_number_premium": "Betaalnummers bellen we niet: geef een gewoon mobiel nummer.",
        "cb_no_slot": "Er is de komende dagen geen terugbelplek vrij.",
    },
    "en": {
        "cb_sms_confirmation": (
            "Terugbel: we will call you {window} on {number} about: {problem}. "
            "Reply 1 = ok, 2 = other time, 3 = cancel."
        ),
        "cb_sms_confirmation_plain": (
            "Terugbel: we will call you {window} on {number}. Reply 1 = ok, 2 = other time, 3 = cancel."
        ),
        "cb_sms_confirmed": "Thank you. We will call you {window} on {number}.",
        "cb_sms_offer": (
            "Pick a new time: {choices}. Reply with its number, or send a time, for example 'tomorrow at 10:00'."
        ),
        "cb_sms_offer_choice": "{choice} = {window}",
        "cb_sms_no_other_time": "No other time is free right now. We will call you as agreed, {window}.",
        "cb_sms_moved": "Moved: we will now call you {window} on {number}. Reply 1 = ok, 2 = other time, 3 = cancel.",
        "cb_sms_cancelled": "Your callback {window} is cancelled. You can always call us again.",
        "cb_sms_help": "Reply 1 = ok, 2 = other time, 3 = cancel. We will call you {window}.",
        "cb_sms_try_again": "Sorry, your reply did not get through just now. Please send it again in a few minutes.",
        "cb_sms_unknown_sender": (
            "There is no callback booked for this number. Call us and choose 'call me back' to book one."
        ),
        "cb_sms_moved_by_us": (
            "Terugbel: because of a staffing change we will not call you {old_window} but {window} on {number}. "
            "Reply 1 = ok, 2 = other time, 3 = cancel."
        ),
        "cb_sms_cannot_keep": (
            "Terugbel: because of a staffing change we cannot call you {old_window}, and no other time is free "
            "in the coming days. Please call us and we will help you straight away."
        ),
        "cb_sms_resolved": (
            "Your question was handled when you spoke to us, so we will no longer call you {window}. "
            "Anything else? Just call us."
        ),
        "cb_sms_reminder": "Reminder: we will call you {window} on {number}. Reply 2 = other time, 3 = cancel.",
        "cb_number_invalid": "We cannot call that number: it is not a valid phone number.",
        "cb_number_not_mobile": "We cannot text that number: please give a mobile number.",
        "cb_number_premium": "We do not call premium-rate numbers: please give an ordinary mobile number.",
        "cb_no_slot": "No callback time is free in the coming days.",
    },
}
