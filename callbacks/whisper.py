"""What the agent hears before taking a callback: who, the problem in the caller's words, the history.

The sentence itself is routing's (routing/whisper.py), as for a caller waiting in a queue; this
module gathers what it says about a promise.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from callbacks.models import CallbackPromise
from routing.history import caller_history, history_facts
from routing.models import Caller, Intent
from routing.whisper import Whisper, callback_whisper_text

__all__ = ["Whisper", "whisper_text"]


def whisper_text(session: Session, promise: CallbackPromise, now: datetime, lang: str) -> str:
    """In the agent's language `lang`: "Terugbelafspraak met Monique de Vries, over: factuur klopt niet.
    Tweede contact deze week over factuur." The caller's own words stay as they said them."""
    caller = session.get(Caller, promise.caller_id) if promise.caller_id else None
    intent = session.get(Intent, promise.intent_id) if promise.intent_id else None
    topic = (intent.label_nl if lang == "nl" else intent.label_en) if intent is not None else None
    earlier = 0
    if caller is not None:
        # The contact in which the callback was booked is this same matter, not an earlier one.
        history = caller_history(session, caller.id, now, exclude_contact_id=promise.contact_id)
        earlier = history_facts(history, intent.name if intent is not None else None).repeat_count
    return callback_whisper_text(
        lang, name=caller.name if caller is not None else None, problem=promise.problem, topic=topic,
        earlier_contacts=earlier,
    )  # fmt: skip
