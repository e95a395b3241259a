"""Twilio-facing HTTP endpoints under /twilio (DESIGN.md §3).

Every request needs a valid X-Twilio-Signature (403 otherwise). Each view parses Twilio's
parameters, calls one service function and renders TwiML. Whatever breaks inside — an exception,
an unreachable database — the caller still gets valid TwiML with an apology and a way forward.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from callbacks.sms_conversation import handle_sms_reply
from ivr import flow
from ivr import service as ivr
from terugbel.i18n import t
from terugbel.logs import bind_call, get_logger
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work
from webhooks import twiml
from webhooks.params import form_value
from webhooks.signature import has_valid_signature

bp = Blueprint("webhooks", __name__, url_prefix="/twilio")
log = get_logger(__name__)

XML = "text/xml; charset=utf-8"
MAX_DIGITS = 32
MAX_SPEECH = 500
MAX_SID = 40
MAX_BODY = 1600
APOLOGY_LOOKUP_SECONDS = 3.0  # well inside Twilio's 15 s webhook timeout
_APOLOGY_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="apology")
# Lookups the apology stopped waiting for; they finish (or give up) on their own.
PENDING_LOOKUPS: set[Future[Any]] = set()
T = TypeVar("T")


@bp.record_once
def _configure_voices(state: Any) -> None:
    # The Polly voices for nl-NL and en-GB are configurable per deployment.
    state.app.config.setdefault(
        "TERUGBEL_VOICES",
        {
            "nl": os.environ.get("TERUGBEL_VOICE_NL") or twiml.DEFAULT_VOICES["nl"],
            "en": os.environ.get("TERUGBEL_VOICE_EN") or twiml.DEFAULT_VOICES["en"],
        },
    )


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def _voices() -> Mapping[str, str]:
    voices: Mapping[str, str] = current_app.config.get("TERUGBEL_VOICES") or twiml.DEFAULT_VOICES
    return voices


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type=XML)


def _param(name: str, limit: int) -> str | None:
    value = form_value(name)
    if value is None:
        return None
    return value[:limit]


def _int_param(name: str) -> int | None:
    raw = (form_value(name) or "").strip()
    if not raw or len(raw) > 9 or not raw.lstrip("-").isdigit():
        return None
    return int(raw)


def _call_sid() -> str:
    sid = (form_value("CallSid") or "").strip()
    if not sid or len(sid) > MAX_SID:
        abort(400, "CallSid is required")
    return sid


def _render(action: flow.Action | ivr.ConnectAgent | None, **options: Any) -> Response:
    runtime = _runtime()
    return _xml(twiml.render(action, url=runtime.url, voices=_voices(), **options))


@bp.before_request
def _check_signature() -> Response | None:
    runtime = _runtime()
    if not has_valid_signature(request, runtime.settings.twilio_auth_token, runtime.settings.public_base_url):
        log.warning("twilio request refused: bad or missing signature", path=request.path)
        return Response("invalid signature", status=403, content_type="text/plain")
    bind_call(form_value("CallSid") or form_value("MessageSid"))
    return None


@bp.errorhandler(Exception)
def _never_a_dead_line(error: Exception) -> Response:
    """Any failure inside a voice webhook still answers the caller with an apology and a way on."""
    if isinstance(error, HTTPException) and (error.code or 500) < 500:
        return error.get_response()
    if isinstance(error, SQLAlchemyError):
        # Database errors carry the statement's parameters (phone numbers): log the kind, not the text.
        log.error("voice webhook failed; apologising", path=request.path, error=type(error).__name__)
    else:
        log.exception("voice webhook failed; apologising", path=request.path, error=type(error).__name__)
    if request.path.startswith("/twilio/sms"):
        # Never silence: the sender hears that the reply did not get through, and what to do.
        language = ivr.language_of_number(_runtime(), form_value("From"))
        return _xml(twiml.message(t(language, "cb_sms_try_again")))
    if request.path.startswith("/twilio/voice/status"):
        return _xml(twiml.empty())
    return _apology()


def _apology() -> Response:
    runtime = _runtime()
    call_sid, from_ = form_value("CallSid"), form_value("From")
    now = runtime.clock.now()
    # A hung database must not hang the apology too: Twilio would give up and say "application error".
    language = _within(
        APOLOGY_LOOKUP_SECONDS,
        lambda: ivr.current_language(runtime, call_sid, from_),
        default=ivr.language_of_number(runtime, from_),
    )
    callback = None
    if not runtime.settings.overflow_number:
        # No person to put them through to: a callback at a concrete time, when one can be kept.
        give_up_at = time.monotonic() + APOLOGY_LOOKUP_SECONDS
        callback = _within(
            APOLOGY_LOOKUP_SECONDS,
            lambda: ivr.fallback_callback(
                runtime, call_sid=call_sid, from_=from_, language=language, now=now, give_up_at=give_up_at
            ),
            default=None,
        )
    action = flow.apology(
        language,
        overflow_number=runtime.settings.overflow_number,
        callback=callback,
        zone=ivr.caller_zone(runtime, from_),
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
    runtime = _runtime()
    action = ivr.answer_call(runtime, call_sid=_call_sid(), from_=_param("From", MAX_SID), now=runtime.clock.now())
    return _render(action)


@bp.post("/voice/gather")
def caller_input() -> Response:
    """The caller's keys or words for the step they are in."""
    runtime = _runtime()
    call_sid = _call_sid()
    event = flow.CallerInput(
        digits=_param("Digits", MAX_DIGITS),
        speech=_param("SpeechResult", MAX_SPEECH),
        confidence=_confidence(form_value("Confidence")),
    )
    try:
        action = ivr.take_input(runtime, call_sid=call_sid, event=event, now=runtime.clock.now())
    except ivr.CallNotFound:
        # We lost (or never had) this call's session: start it over rather than leave the caller hanging.
        action = ivr.answer_call(runtime, call_sid=call_sid, from_=_param("From", MAX_SID), now=runtime.clock.now())
    return _render(action)


@bp.post("/voice/wait")
def wait_in_queue() -> Response:
    """The hold message, each loop: position, a concrete estimate, and a callback instead."""
    runtime = _runtime()
    ask = ivr.wait_message(
        runtime,
        call_sid=_call_sid(),
        position=_int_param("QueuePosition") or 1,
        waited_seconds=max(0, _int_param("QueueTime") or 0),
        now=runtime.clock.now(),
    )
    return _render(ask, gather_path="/twilio/voice/wait/choice", in_wait=True)


@bp.post("/voice/wait/choice")
def wait_choice() -> Response:
    """A key pressed while waiting: 1 books the callback the hold message offered."""
    runtime = _runtime()
    event = flow.CallerInput(digits=_param("Digits", MAX_DIGITS))
    action = ivr.take_input(runtime, call_sid=_call_sid(), event=event, now=runtime.clock.now())
    if isinstance(action, flow.Enqueue):
        # Still waiting: this runs inside the queue's wait context, where <Enqueue> is not allowed; an
        # empty document ends this loop and Twilio fetches the wait URL again, place in line kept.
        return _xml(twiml.empty())
    return _render(action)


@bp.post("/voice/queue-result")
def queue_result() -> Response:
    """The caller left the queue: bridged or hung up ends here; a full or failed queue gets a way on."""
    runtime = _runtime()
    result = (_param("QueueResult", 40) or "").strip()
    if result == "redirected":
        # Distribution moved the call on (REST redirect to the connect URL): that document runs, not this.
        return _xml(twiml.empty())
    action = ivr.queue_result(runtime, call_sid=_call_sid(), result=result, now=runtime.clock.now())
    return _render(action)


# --- agents ---------------------------------------------------------------------------------------------------


@bp.post("/voice/connect/<int:entry_id>")
def connect_agent(entry_id: int) -> Response:
    """Distribution picked this waiting caller for an agent: dial the agent with a whisper."""
    runtime = _runtime()
    try:
        action = ivr.connect_agent(runtime, entry_id=entry_id, now=runtime.clock.now())
    except ivr.CallNotFound:
        abort(404, "no such queue entry")
    return _render(action)


@bp.post("/voice/connect/<int:entry_id>/done")
def agent_leg_done(entry_id: int) -> Response:
    """The agent leg ended: hang up after a conversation, or back in the queue if it never started."""
    runtime = _runtime()
    try:
        action = ivr.agent_dial_result(runtime, entry_id=entry_id, now=runtime.clock.now())
    except ivr.CallNotFound:
        abort(404, "no such queue entry")
    return _render(action)


@bp.post("/voice/whisper/<int:entry_id>")
def agent_whisper(entry_id: int) -> Response:
    """What the agent hears before the caller: name, problem in their words, contacts this week."""
    runtime = _runtime()
    try:
        heard = ivr.whisper(runtime, entry_id=entry_id, now=runtime.clock.now())
    except ivr.CallNotFound:
        abort(404, "no such queue entry")
    accept = runtime.url(f"/twilio/voice/whisper/{entry_id}/accept")
    return _xml(twiml.whisper(heard.text, heard.language, accept, _voices()))


@bp.post("/voice/whisper/<int:entry_id>/accept")
def whisper_answer(entry_id: int) -> Response:
    """1 takes the call (an empty response bridges); anything else hangs up the agent leg."""
    runtime = _runtime()
    try:
        taken = ivr.accept_whisper(
            runtime, entry_id=entry_id, digits=_param("Digits", MAX_DIGITS), now=runtime.clock.now()
        )
    except ivr.CallNotFound:
        abort(404, "no such queue entry")
    return _xml(twiml.empty() if taken else twiml.hangup())


# --- status, fallback, SMS ------------------------------------------------------------------------------------


@bp.post("/voice/status")
def call_status() -> Response:
    """Twilio's status callback: completes the contact; duplicates and older callbacks change nothing."""
    runtime = _runtime()
    ivr.record_status(
        runtime,
        call_sid=_call_sid(),
        status=(_param("CallStatus", 20) or "").strip().lower(),
        sequence=_int_param("SequenceNumber"),
        duration=_int_param("CallDuration"),
        now=runtime.clock.now(),
    )
    return _xml(twiml.empty())


@bp.post("/voice/fallback")
def fallback() -> Response:
    """Twilio's Fallback URL: our primary answer failed, so apologise and offer a way forward."""
    log.warning("twilio used the fallback URL", error_code=_param("ErrorCode", 10))
    return _apology()


@bp.post("/sms")
def incoming_sms() -> Response:
    """A text from a caller: replies about their callback; unknown senders get a short help text."""
    runtime = _runtime()
    sid = (form_value("MessageSid") or form_value("SmsSid") or "").strip()
    if not sid or len(sid) > MAX_SID:
        abort(400, "MessageSid is required")
    with unit_of_work(runtime) as session:
        answer = handle_sms_reply(
            session,
            from_number=_param("From", MAX_SID) or "",
            body=_param("Body", MAX_BODY) or "",
            message_sid=sid,
            now=runtime.clock.now(),
        )
    return _xml(twiml.message(answer))


def _confidence(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    if value is None or value != value or not 0.0 <= value <= 1.0:  # NaN and out of range: unknown
        return None
    return value
