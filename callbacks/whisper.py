"""What the agent hears before taking a callback: who, the problem in the caller's words, the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from callbacks.models import CallbackPromise
from routing.history import caller_history, history_facts
from routing.models import Caller, Intent
from terugbel.i18n import t

AGENT_LANGUAGE = "nl"  # the agents' working language: whispers and prompts on the agent leg


@dataclass(frozen=True)
class Whisper:
    text: str
    language: str


def whisper_text(session: Session, promise: CallbackPromise, now: datetime) -> str:
    """ "Terugbelafspraak met Monique de Vries, over: factuur klopt niet. Tweede contact deze week over factuur." """
    lang = AGENT_LANGUAGE
    caller = session.get(Caller, promise.caller_id) if promise.caller_id else None
    who = caller.name if caller is not None and caller.name else t(lang, "cbd_unknown_caller")
    problem = (promise.problem or "").strip() or t(lang, "cbd_no_problem")
    intent = session.get(Intent, promise.intent_id) if promise.intent_id else None
    topic = (intent.label_nl if lang == "nl" else intent.label_en) if intent is not None else problem
    earlier = 0
    if caller is not None:
        # The contact in which the callback was booked is this same matter, not an earlier one.
        history = caller_history(session, caller.id, now, exclude_contact_id=promise.contact_id)
        earlier = history_facts(history, intent.name if intent is not None else None).repeat_count
    if earlier == 0:
        history_sentence = t(lang, "cbd_history_first")
    elif earlier == 1:
        history_sentence = t(lang, "cbd_history_second", topic=topic)
    elif earlier == 2:
        history_sentence = t(lang, "cbd_history_third", topic=topic)
    else:
        history_sentence = t(lang, "cbd_history_many", topic=topic, count=earlier + 1)
    return t(lang, "cbd_whisper", who=who, problem=problem, history=history_sentence)
