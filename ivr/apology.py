"""Never a dead line: when something breaks mid-call, the language to apologise in and a callback
the apology can promise (the caller's open one, or the earliest free slot).

Every function here runs while apologising: it answers with what it can and never raises.
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import select

from callbacks.booking import book_callback, open_promise_for
from ivr.call_sessions import find_call, flow_state_of
from ivr.caller_facts import caller_zone
from routing.models import Contact, ContactOutcome, Queue
from routing.route import GENERAL_QUEUE
from terugbel.logs import get_logger
from terugbel.phone import language_for_number, try_e164
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work

log = get_logger(__name__)


def fallback_callback(
    runtime: Runtime,
    *,
    call_sid: str | None,
    from_: str | None,
    language: str,
    now: datetime,
    give_up_at: float | None = None,
) -> tuple[datetime, datetime] | None:
    """Something broke mid-call: keep the caller's open promise or book the earliest callback.

    Returns the window to promise, or None when no callback can be kept (withheld number, the
    database itself is down, no slot). Never raises: it runs while apologising.
    """
    try:
        with unit_of_work(runtime) as session:
            call = find_call(session, call_sid) if call_sid else None
            number = call.number if call is not None else try_e164(from_, runtime.settings.default_region)
            if not number:
                return None
            existing = open_promise_for(session, number)
            if existing is not None:
                return existing.window_start, existing.window_end
            state = flow_state_of(call) if call is not None else None
            queue_id = state.queue_id if state is not None else None
            if queue_id is None:
                general = session.scalar(select(Queue).where(Queue.name == GENERAL_QUEUE))
                queue_id = general.id if general is not None else session.scalar(select(Queue.id).order_by(Queue.id))
            if queue_id is None:
                return None
            contact = session.get(Contact, call.contact_id) if call is not None and call.contact_id else None
            promise = book_callback(
                session,
                queue_id=queue_id,
                number=number,
                language=language,
                timezone=caller_zone(runtime, number),
                now=now,
                caller_id=call.caller_id if call is not None else None,
                contact_id=call.contact_id if call is not None else None,
                problem=state.words if state is not None else None,
                priority=contact.priority if contact is not None else 0,
                region=runtime.settings.default_region,
            )
            if contact is not None:
                contact.outcome = ContactOutcome.CALLBACK_BOOKED.value
            if give_up_at is not None and time.monotonic() > give_up_at:
                # The apology went out without this callback: undo it rather than book a silent one.
                raise TimeoutError("too late to promise this callback")
            return promise.window_start, promise.window_end
    except Exception as exc:  # the apology goes on without a callback
        log.warning("no callback could be booked while apologising", error=type(exc).__name__)
        return None


def current_language(runtime: Runtime, call_sid: str | None, from_: str | None) -> str:
    """The language to apologise in: the session's, else the one the number suggests."""
    if call_sid:
        try:
            with runtime.db.session() as session:
                call = find_call(session, call_sid)
                if call is not None:
                    return str(call.data.get("flow", {}).get("language") or call.language)
        except Exception:
            log.warning("language lookup failed; using the number's")
    return language_for_number(try_e164(from_, runtime.settings.default_region))


def language_of_number(runtime: Runtime, from_: str | None) -> str:
    """The language a number suggests, without asking the database."""
    return language_for_number(try_e164(from_, runtime.settings.default_region))
