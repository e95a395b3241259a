"""Twilio-facing HTTP endpoints under /twilio: the incoming call, the caller's input,
waiting in the queue, putting an agent through, status callbacks, the fallback URL, and SMS.

Every request needs a valid X-Twilio-Signature (403 otherwise). Each view parses Twilio's
parameters, calls one service function and renders TwiML (webhooks/twiml.py). Whatever breaks
inside — an exception, an unreachable database — the caller still gets valid TwiML with an apology
and a way forward.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, request
from werkzeug.wrappers import Response as BaseResponse

from callbacks.sms_conversation import handle_sms_reply
from ivr import agent_legs, apology, calls
from ivr.agent_legs import ConnectAgent
from ivr.call_sessions import CallNotFound
from ivr.caller_facts import caller_zone
from ivr.flow_types import Action, CallerInput, Enqueue
from ivr.prompts import apology as apology_prompt
from terugbel.i18n import t
from terugbel.logs import get_logger
from terugbel.unit_of_work import unit_of_work
from webhooks import twiml
from webhooks.common import (
    MAX_DIGITS,
    MAX_SID,
    bounded_param,
    form_value,
    int_param,
    log_failure,
    refuse_unsigned,
    request_error_response,
    required_call_sid,
    webhook_runtime,
    xml_response,
)

PREFIX = "/twilio"
QUEUE_CONNECT_RULE = "/voice/connect/<int:entry_id>"
# Where distribution sends a waiting caller once an agent is reserved (terugbel/wiring.py).
QUEUE_CONNECT = PREFIX + "/voice/connect/{queue_entry_id}"

bp = Blueprint("webhooks", __name__, url_prefix=PREFIX)
bp.before_request(refuse_unsigned)
log = get_logger(__name__)

MAX_SPEECH = 500
MAX_BODY = 1600
APOLOGY_LOOKUP_SECONDS = 3.0  # well inside Twilio's 15 s webhook timeout
_APOLOGY_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="apology")
# Lookups the apology stopped waiting for; they finish (or give up) on their own.
PENDING_LOOKUPS: set[Future[Any]] = set()
T = TypeVar("T")


def _render(action: Action | ConnectAgent | None, **options: Any) -> Response:
    runtime = webhook_runtime()
    return xml_response(twiml.render(action, url=runtime.url, voices=twiml.voices_of(runtime.settings), **options))


@bp.errorhandler(Exception)
def _never_a_dead_line(error: Exception) -> BaseResponse:
    """Any failure inside a voice webhook still answers the caller with an apology and a way on."""
    refused = request_error_response(error)
    if refused is not None:
        return refused
    log_failure("voice webhook failed; apologising", error)
    if request.path.startswith("/twilio/sms"):
        # Never silence: the sender hears that the reply did not get through, and what to do.
        language = apology.language_of_number(webhook_runtime(), form_value("From"))
        return xml_response(twiml.message(t(language, "cb_sms_try_again")))
    if request.path.startswith("/twilio/voice/status"):
        return xml_response(twiml.empty())
    return _apology()


def _apology() -> Response:
    runtime = webhook_runtime()
    call_sid, from_ = form_value("CallSid"), form_value("From")
    now = runtime.clock.now()
    # A hung database must not hang the apology too: Twilio would give up and say "application error".
    language = _within(
        APOLOGY_LOOKUP_SECONDS,
        lambda: apology.current_language(runtime, call_sid, from_),
        default=apology.language_of_number(runtime, from_),
    )
    callback = None
    if not runtime.settings.overflow_number:
        # No person to put them through to: a callback at a concrete time, when one can be kept.
        give_up_at = time.monotonic() + APOLOGY_LOOKUP_SECONDS
        callback = _within(
            APOLOGY_LOOKUP_SECONDS,
            lambda: apology.fallback_callback(
                runtime, call_sid=call_sid, from_=from_, language=language, now=now, give_up_at=give_up_at
            ),
            default=None,
        )
    action = apology_prompt(
        language,
        overflow_number=runtime.settings.overflow_number,
        callback=callback,
        zone=caller_zone(runtime, from_),
        now=now,
    )
    return _render(action)


def _within(seconds: float, work: Callable[[], T], *, default: T) -> T:
    """`work()` if it answers within `seconds`, else (or on any error) `default`."""
    future = _APOLOGY_POOL.submit(work)
    PENDING_LOOKUPS.add(future)
    future.add_done_callback(PENDING_LOOKUPS.discard)
    try:
        return future.result(timeout=seconds)
    except Exception:  # timeout or failure: the caller hears the apology without it
        log.warning("apology lookup skipped", reason="slow or failing")
        return default


# --- the call ----------------------------------------------------------------------------------------------


@bp.post("/voice")
def incoming_call() -> Response:
    """A call comes in: incident, open promise, greeting and the problem question."""
    runtime = webhook_runtime()
    action = calls.answer_call(
        runtime, call_sid=required_call_sid(), from_=bounded_param("From", MAX_SID), now=runtime.clock.now()
    )
    return _render(action)


@bp.post("/voice/gather")
def caller_input() -> Response:
    """The caller's keys or words for the step they are in."""
    runtime = webhook_runtime()
    call_sid = required_call_sid()
    event = CallerInput(
        digits=bounded_param("Digits", MAX_DIGITS),
        speech=bounded_param("SpeechResult", MAX_SPEECH),
        confidence=_confidence(form_value("Confidence")),
    )
    try:
        action = calls.take_input(runtime, call_sid=call_sid, event=event, now=runtime.clock.now())
    except CallNotFound:
        # We lost (or never had) this call's session: start it over rather than leave the caller hanging.
        action = calls.answer_call(
            runtime, call_sid=call_sid, from_=bounded_param("From", MAX_SID), now=runtime.clock.now()
        )
    return _render(action)


@bp.post("/voice/wait")
def wait_in_queue() -> Response:
    """The hold message, each loop: position, a concrete estimate, and a callback instead."""
    runtime = webhook_runtime()
    ask = calls.wait_message(
        runtime,
        call_sid=required_call_sid(),
        position=int_param("QueuePosition") or 1,
        waited_seconds=max(0, int_param("QueueTime") or 0),
        now=runtime.clock.now(),
    )
    return _render(ask, gather_path=twiml.WAIT_CHOICE_PATH, in_wait=True)


@bp.post("/voice/wait/choice")
def wait_choice() -> Response:
    """A key pressed while waiting: 1 books the callback the hold message offered."""
    runtime = webhook_runtime()
    event = CallerInput(digits=bounded_param("Digits", MAX_DIGITS))
    action = calls.take_input(runtime, call_sid=required_call_sid(), event=event, now=runtime.clock.now())
    if isinstance(action, Enqueue):
        # Still waiting: this runs inside the queue's wait context, where <Enqueue> is not allowed; an
        # empty document ends this loop and Twilio fetches the wait URL again, place in line kept.
        return xml_response(twiml.empty())
    return _render(action)


@bp.post("/voice/queue-result")
def queue_result() -> Response:
    """The caller left the queue: bridged or hung up ends here; a full or failed queue gets a way on."""
    runtime = webhook_runtime()
    result = (bounded_param("QueueResult", 40) or "").strip()
    if result == "redirected":
        # Distribution moved the call on (REST redirect to the connect URL): that document runs, not this.
        return xml_response(twiml.empty())
    action = calls.queue_result(runtime, call_sid=required_call_sid(), result=result, now=runtime.clock.now())
    return _render(action)


# --- agents ---------------------------------------------------------------------------------------------------


@bp.post(QUEUE_CONNECT_RULE)
def connect_agent(entry_id: int) -> Response:
    """Distribution picked this waiting caller for an agent: dial the agent with a whisper."""
    runtime = webhook_runtime()
    try:
        action = agent_legs.connect_agent(runtime, entry_id=entry_id, now=runtime.clock.now())
    except CallNotFound:
        abort(404, "no such queue entry")
    return _render(action)


@bp.post("/voice/connect/<int:entry_id>/done")
def agent_leg_done(entry_id: int) -> Response:
    """The agent leg ended: hang up after a conversation, or back in the queue if it never started."""
    runtime = webhook_runtime()
    try:
        action = agent_legs.agent_dial_result(runtime, entry_id=entry_id, now=runtime.clock.now())
    except CallNotFound:
        abort(404, "no such queue entry")
    return _render(action)


@bp.post("/voice/whisper/<int:entry_id>")
def agent_whisper(entry_id: int) -> Response:
    """What the agent hears before the caller: name, problem in their words, contacts this week."""
    runtime = webhook_runtime()
    try:
        heard = agent_legs.whisper(runtime, entry_id=entry_id, now=runtime.clock.now())
    except CallNotFound:
        abort(404, "no such queue entry")
    accept = runtime.url(f"/twilio/voice/whisper/{entry_id}/accept")
    return xml_response(twiml.whisper(heard.text, heard.language, accept, twiml.voices_of(runtime.settings)))


@bp.post("/voice/whisper/<int:entry_id>/accept")
def whisper_answer(entry_id: int) -> Response:
    """1 takes the call (an empty response bridges); anything else hangs up the agent leg."""
    runtime = webhook_runtime()
    try:
        taken = agent_legs.accept_whisper(
            runtime, entry_id=entry_id, digits=bounded_param("Digits", MAX_DIGITS), now=runtime.clock.now()
        )
    except CallNotFound:
        abort(404, "no such queue entry")
    return xml_response(twiml.empty() if taken else twiml.hangup())


# --- status, fallback, SMS ------------------------------------------------------------------------------------


@bp.post("/voice/status")
def call_status() -> Response:
    """Twilio's status callback: completes the contact; duplicates and older callbacks change nothing."""
    runtime = webhook_runtime()
    calls.record_status(
        runtime,
        call_sid=required_call_sid(),
        status=(bounded_param("CallStatus", 20) or "").strip().lower(),
        sequence=int_param("SequenceNumber"),
        duration=int_param("CallDuration"),
        now=runtime.clock.now(),
    )
    return xml_response(twiml.empty())


@bp.post("/voice/fallback")
def fallback() -> Response:
    """Twilio's Fallback URL: our primary answer failed, so apologise and offer a way forward."""
    log.warning("twilio used the fallback URL", error_code=bounded_param("ErrorCode", 10))
    return _apology()


@bp.post("/sms")
def incoming_sms() -> Response:
    """A text from a caller: replies about their callback; unknown senders get a short help text."""
    runtime = webhook_runtime()
    sid = (form_value("MessageSid") or form_value("SmsSid") or "").strip()
    if not sid or len(sid) > MAX_SID:
        abort(400, "MessageSid is required")
    with unit_of_work(runtime) as session:
        answer = handle_sms_reply(
            session,
            from_number=bounded_param("From", MAX_SID) or "",
            body=bounded_param("Body", MAX_BODY) or "",
            message_sid=sid,
            now=runtime.clock.now(),
        )
    return xml_response(twiml.message(answer))


def _confidence(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    if value is None or value != value or not 0.0 <= value <= 1.0:  # NaN and out of range: unknown
        return None
    return value
