"""The legs of a callback call under /twilio/callbacks: agent whisper, conference, caller, status.

Internal URLs: they appear only in the TwiML and REST requests the callbacks place;
terugbel/wiring.py hands their paths to the callbacks. Every request needs a
valid X-Twilio-Signature. Each view parses Twilio's parameters, calls one function of
callbacks/agent_leg.py or callbacks/caller_leg.py and renders TwiML (webhooks/twiml.py); the state
guards there make a repeated or late request change nothing twice.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from werkzeug.wrappers import Response as BaseResponse

from callbacks import agent_leg, caller_leg
from telephony.call_status import is_final_status
from terugbel.i18n import message_id, t
from webhooks import twiml
from webhooks.common import (
    form_value,
    log_failure,
    refuse_unsigned,
    request_error_response,
    required_call_sid,
    webhook_runtime,
    xml_response,
)

PREFIX = "/twilio/callbacks"
AGENT_WHISPER = "/agent/whisper"
AGENT_RELEASED = "/agent/released"
CALLER_ANSWER = "/caller/answer"
CALLER_AMD = "/caller/amd"
LEG_STATUS = "/status"

bp = Blueprint("callback_calls", __name__, url_prefix=PREFIX)
bp.before_request(refuse_unsigned)


def _id(name: str) -> int:
    raw = request.args.get(name, "")
    if not raw.isdigit() or len(raw) > 12:
        abort(400, f"{name} must be a number")
    return int(raw)


def _form(name: str, limit: int = 24) -> str:
    return (form_value(name) or "").strip()[:limit]


def _url(path: str, **params: object) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return webhook_runtime().url(f"{bp.url_prefix}{path}?{query}")


def _voices() -> dict[str, str]:
    return twiml.voices_of(webhook_runtime().settings)


def _goodbye(text: str | None, language: str) -> Response:
    return xml_response(twiml.spoken_goodbye(text, language, _voices()))


def _agent_goodbye(agent_id: int | None, key: str) -> Response:
    """A last sentence on the agent's leg, in the agent's language, then hang up."""
    language = agent_leg.agent_prompt_language(webhook_runtime(), agent_id)
    return _goodbye(t(language, key), language)


@bp.errorhandler(Exception)
def _never_a_dead_line(error: Exception) -> BaseResponse:
    """A failure still answers with a sentence (status callbacks: an empty document)."""
    refused = request_error_response(error)
    if refused is not None:
        return refused
    log_failure("callback leg webhook failed", error)
    if request.path.endswith((LEG_STATUS, CALLER_AMD)):
        return xml_response(twiml.empty())
    return _goodbye(t("nl", "cbd_sorry"), "nl")


# --- the agent's leg ------------------------------------------------------------------------------


@bp.post(AGENT_WHISPER)
def agent_whisper() -> Response:
    """Tell the agent who calls about what, with the history; 1 connects, 2 passes."""
    attempt_id, agent_id = _id("attempt"), _id("agent")
    whisper = agent_leg.agent_whisper(webhook_runtime(), attempt_id, agent_id, required_call_sid())
    if whisper is None:
        return _agent_goodbye(agent_id, message_id("cbd_agent_not_needed"))
    choice_url = _url("/agent/choice", attempt=attempt_id, agent=agent_id)
    keys = t(whisper.language, "cbd_whisper_keys")
    return xml_response(twiml.agent_whisper_choice(whisper.text, keys, whisper.language, choice_url, _voices()))


@bp.post("/agent/choice")
def agent_choice() -> Response:
    """1: the agent waits in the conference while the caller is dialled. Anything else: pass."""
    runtime = webhook_runtime()
    attempt_id, agent_id, call_sid = _id("attempt"), _id("agent"), required_call_sid()
    if _form("Digits", 4) == "1":
        conference = agent_leg.agent_accepts(runtime, attempt_id, agent_id, call_sid)
        if conference is None:
            return _agent_goodbye(agent_id, message_id("cbd_agent_not_needed"))
        language = agent_leg.agent_prompt_language(runtime, agent_id)
        after_url = _url("/agent/after", attempt=attempt_id, agent=agent_id)
        text = t(language, "cbd_agent_connecting")
        return xml_response(twiml.conference_with_agent(text, language, conference, after_url, _voices()))
    agent_leg.agent_passes(runtime, attempt_id, agent_id, call_sid)
    return _agent_goodbye(agent_id, message_id("cbd_agent_passed"))


@bp.post(AGENT_RELEASED)
def agent_released() -> Response:
    """The caller was not reached while the agent waited: tell the agent, who is free again."""
    return _agent_goodbye(_id("agent") if "agent" in request.args else None, message_id("cbd_agent_released"))


@bp.post("/agent/after")
def agent_after_call() -> Response:
    """The conference is over: the agent records the outcome with one key."""
    attempt_id, agent_id = _id("attempt"), _id("agent")
    outcome_url = _url("/agent/outcome", attempt=attempt_id, agent=agent_id)
    language = agent_leg.agent_prompt_language(webhook_runtime(), agent_id)
    return xml_response(twiml.outcome_question(t(language, "cbd_agent_outcome"), language, outcome_url, _voices()))


@bp.post("/agent/outcome")
def agent_outcome() -> Response:
    """1 = resolved, 2 = follow-up needed; the contact in the caller's history keeps it."""
    digits = _form("Digits", 4)
    if digits in {"1", "2"}:
        agent_leg.record_outcome(webhook_runtime(), _id("attempt"), resolved=digits == "1")
    return _agent_goodbye(_id("agent"), message_id("cbd_agent_outcome_saved"))


# --- the caller's leg -------------------------------------------------------------------------------


@bp.post(CALLER_ANSWER)
def caller_answer() -> Response:
    """Hold a second while detection runs; then connect a person or leave the voicemail message."""
    attempt_id = _id("attempt")
    poll = int(request.args.get("poll", "0")) if request.args.get("poll", "0").isdigit() else 0
    step = caller_leg.caller_answer(webhook_runtime(), attempt_id, required_call_sid(), poll)
    if step.kind == "hold":
        return xml_response(twiml.hold_a_second(_url(CALLER_ANSWER, attempt=attempt_id, poll=poll + 1)))
    if step.kind == "connect" and step.conference:
        return xml_response(twiml.conference_with_caller(step.text, step.language, step.conference, _voices()))
    return _goodbye(step.text or None, step.language)


@bp.post(CALLER_AMD)
def caller_amd() -> Response:
    """Async answering-machine detection's verdict for the caller's leg."""
    answered_by = _form("AnsweredBy", 24)
    if answered_by:
        caller_leg.caller_detected(webhook_runtime(), _id("attempt"), required_call_sid(), answered_by)
    return xml_response(twiml.empty())


# --- status callbacks of both legs -----------------------------------------------------------------


@bp.post(LEG_STATUS)
def leg_status() -> Response:
    """Act on a leg's final status once; earlier, repeated and out-of-order callbacks change nothing."""
    runtime = webhook_runtime()
    attempt_id, call_sid = _id("attempt"), required_call_sid()
    status = _form("CallStatus", 20).lower()
    if not is_final_status(status):
        return xml_response(twiml.empty())
    if request.args.get("leg") == "agent":
        agent_leg.agent_leg_ended(runtime, attempt_id, _id("agent"), call_sid, status)
    elif request.args.get("leg") == "caller":
        caller_leg.caller_leg_ended(runtime, attempt_id, call_sid, status, _form("AnsweredBy", 24) or None)
    else:
        abort(400, "leg must be agent or caller")
    return xml_response(twiml.empty())
