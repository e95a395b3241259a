"""The legs of a callback call under /twilio/callbacks: agent whisper, conference, caller, status.

Internal URLs: they appear only in the TwiML and REST requests the dispatch places (DESIGN.md §3);
`CALLBACK_LEG_URLS` hands their paths to the callbacks (terugbel/wiring.py). Every request needs a
valid X-Twilio-Signature. Each view parses Twilio's parameters, calls one function of
callbacks/agent_leg.py or callbacks/caller_leg.py and renders TwiML; the state guards there make a
repeated or late request change nothing twice.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse
from werkzeug.exceptions import HTTPException

from callbacks import agent_leg, caller_leg
from callbacks.leg_urls import CallbackLegUrls
from callbacks.whisper import AGENT_LANGUAGE
from telephony.call_status import is_final_status
from terugbel.i18n import t
from terugbel.logs import bind_call, get_logger
from terugbel.runtime import Runtime
from webhooks.params import form_value
from webhooks.signature import has_valid_signature

PREFIX = "/twilio/callbacks"
AGENT_WHISPER = "/agent/whisper"
AGENT_RELEASED = "/agent/released"
CALLER_ANSWER = "/caller/answer"
CALLER_AMD = "/caller/amd"
LEG_STATUS = "/status"
CALLBACK_LEG_URLS = CallbackLegUrls(
    agent_whisper=PREFIX + AGENT_WHISPER,
    agent_released=PREFIX + AGENT_RELEASED,
    caller_answer=PREFIX + CALLER_ANSWER,
    caller_amd=PREFIX + CALLER_AMD,
    leg_status=PREFIX + LEG_STATUS,
)

bp = Blueprint("callback_calls", __name__, url_prefix=PREFIX)
log = get_logger(__name__)

XML = "text/xml; charset=utf-8"
MAX_SID = 40
SPEECH_LANGUAGE = {"nl": "nl-NL", "en": "en-GB"}
WHISPER_SECONDS = 6


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def _xml(response: VoiceResponse, status: int = 200) -> Response:
    return Response(str(response), status=status, content_type=XML)


def _id(name: str) -> int:
    raw = request.args.get(name, "")
    if not raw.isdigit() or len(raw) > 12:
        abort(400, f"{name} must be a number")
    return int(raw)


def _call_sid() -> str:
    sid = (form_value("CallSid") or "").strip()
    if not sid or len(sid) > MAX_SID:
        abort(400, "CallSid is required")
    return sid


def _form(name: str, limit: int = 24) -> str:
    return (form_value(name) or "").strip()[:limit]


def _url(path: str, **params: object) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return _runtime().url(f"{bp.url_prefix}{path}?{query}")


def _say(target: VoiceResponse | Gather, text: str, language: str) -> None:
    target.say(text, language=SPEECH_LANGUAGE.get(language, "nl-NL"))


def _goodbye(text: str | None, language: str = AGENT_LANGUAGE) -> Response:
    response = VoiceResponse()
    if text:
        _say(response, text, language)
    response.hangup()
    return _xml(response)


@bp.before_request
def _check_signature() -> Response | None:
    runtime = _runtime()
    if not has_valid_signature(request, runtime.settings.twilio_auth_token, runtime.settings.public_base_url):
        log.warning("twilio request refused: bad or missing signature", path=request.path)
        return Response("invalid signature", status=403, content_type="text/plain")
    bind_call(form_value("CallSid"))
    return None


@bp.errorhandler(Exception)
def _never_a_dead_line(error: Exception) -> Response:
    """A failure still answers with a sentence (status callbacks: an empty document)."""
    if isinstance(error, HTTPException) and (error.code or 500) < 500:
        return error.get_response()
    log.exception("callback leg webhook failed", path=request.path, error=type(error).__name__)
    if request.path.endswith((LEG_STATUS, CALLER_AMD)):
        return _xml(VoiceResponse())
    return _goodbye(t("nl", "cbd_sorry"))


# --- the agent's leg ------------------------------------------------------------------------------


@bp.post(AGENT_WHISPER)
def agent_whisper() -> Response:
    """Tell the agent who calls about what, with the history; 1 connects, 2 passes."""
    attempt_id, agent_id = _id("attempt"), _id("agent")
    whisper = agent_leg.agent_whisper(_runtime(), attempt_id, agent_id, _call_sid())
    if whisper is None:
        return _goodbye(t(AGENT_LANGUAGE, "cbd_agent_not_needed"))
    choice_url = _url("/agent/choice", attempt=attempt_id, agent=agent_id)
    response = VoiceResponse()
    first = Gather(num_digits=1, action=choice_url, timeout=WHISPER_SECONDS, input="dtmf")
    _say(first, f"{whisper.text} {t(whisper.language, 'cbd_whisper_keys')}", whisper.language)
    response.append(first)
    again = Gather(num_digits=1, action=choice_url, timeout=WHISPER_SECONDS, input="dtmf")
    _say(again, t(whisper.language, "cbd_whisper_keys"), whisper.language)
    response.append(again)
    # Silence twice: the agent passes (the choice view without Digits).
    response.redirect(choice_url)
    return _xml(response)


@bp.post("/agent/choice")
def agent_choice() -> Response:
    """1: the agent waits in the conference while the caller is dialled. Anything else: pass."""
    runtime = _runtime()
    attempt_id, agent_id, call_sid = _id("attempt"), _id("agent"), _call_sid()
    if _form("Digits", 4) == "1":
        conference = agent_leg.agent_accepts(runtime, attempt_id, agent_id, call_sid)
        if conference is None:
            return _goodbye(t(AGENT_LANGUAGE, "cbd_agent_not_needed"))
        response = VoiceResponse()
        _say(response, t(AGENT_LANGUAGE, "cbd_agent_connecting"), AGENT_LANGUAGE)
        dial = Dial(action=_url("/agent/after", attempt=attempt_id, agent=agent_id))
        dial.conference(conference, start_conference_on_enter=True, end_conference_on_exit=True, beep=False)
        response.append(dial)
        return _xml(response)
    agent_leg.agent_passes(runtime, attempt_id, agent_id, call_sid)
    return _goodbye(t(AGENT_LANGUAGE, "cbd_agent_passed"))


@bp.post(AGENT_RELEASED)
def agent_released() -> Response:
    """The caller was not reached while the agent waited: tell the agent, who is free again."""
    return _goodbye(t(AGENT_LANGUAGE, "cbd_agent_released"))


@bp.post("/agent/after")
def agent_after_call() -> Response:
    """The conference is over: the agent records the outcome with one key."""
    attempt_id, agent_id = _id("attempt"), _id("agent")
    response = VoiceResponse()
    gather = Gather(
        num_digits=1, action=_url("/agent/outcome", attempt=attempt_id, agent=agent_id), timeout=8, input="dtmf"
    )
    _say(gather, t(AGENT_LANGUAGE, "cbd_agent_outcome"), AGENT_LANGUAGE)
    response.append(gather)
    response.hangup()
    return _xml(response)


@bp.post("/agent/outcome")
def agent_outcome() -> Response:
    """1 = resolved, 2 = follow-up needed; the contact in the caller's history keeps it."""
    digits = _form("Digits", 4)
    if digits in {"1", "2"}:
        agent_leg.record_outcome(_runtime(), _id("attempt"), resolved=digits == "1")
    return _goodbye(t(AGENT_LANGUAGE, "cbd_agent_outcome_saved"))


# --- the caller's leg -------------------------------------------------------------------------------


@bp.post(CALLER_ANSWER)
def caller_answer() -> Response:
    """Hold a second while detection runs; then connect a person or leave the voicemail message."""
    attempt_id = _id("attempt")
    poll = int(request.args.get("poll", "0")) if request.args.get("poll", "0").isdigit() else 0
    step = caller_leg.caller_answer(_runtime(), attempt_id, _call_sid(), poll)
    response = VoiceResponse()
    if step.kind == "hold":
        response.pause(length=1)
        response.redirect(_url(CALLER_ANSWER, attempt=attempt_id, poll=poll + 1))
        return _xml(response)
    if step.kind == "connect" and step.conference:
        _say(response, step.text, step.language)
        dial = Dial()
        dial.conference(step.conference, start_conference_on_enter=True, end_conference_on_exit=True, beep=False)
        response.append(dial)
        return _xml(response)
    return _goodbye(step.text or None, step.language)


@bp.post(CALLER_AMD)
def caller_amd() -> Response:
    """Async answering-machine detection's verdict for the caller's leg."""
    answered_by = _form("AnsweredBy", 24)
    if answered_by:
        caller_leg.caller_detected(_runtime(), _id("attempt"), _call_sid(), answered_by)
    return _xml(VoiceResponse())


# --- status callbacks of both legs -----------------------------------------------------------------


@bp.post(LEG_STATUS)
def leg_status() -> Response:
    """Act on a leg's final status once; earlier, repeated and out-of-order callbacks change nothing."""
    runtime = _runtime()
    attempt_id, call_sid = _id("attempt"), _call_sid()
    status = _form("CallStatus", 20).lower()
    if not is_final_status(status):
        return _xml(VoiceResponse())
    if request.args.get("leg") == "agent":
        agent_leg.agent_leg_ended(runtime, attempt_id, _id("agent"), call_sid, status)
    elif request.args.get("leg") == "caller":
        caller_leg.caller_leg_ended(runtime, attempt_id, call_sid, status, _form("AnsweredBy", 24) or None)
    else:
        abort(400, "leg must be agent or caller")
    return _xml(VoiceResponse())
