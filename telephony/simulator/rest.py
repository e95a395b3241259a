"""The simulated 2010-04-01 REST API: Calls create/list/fetch/update, Messages create/list.

Requests are checked the way Twilio checks them (basic auth, required fields, numbers, enums, one of
Url/Twiml/ApplicationSid) and, where Twilio's OpenAPI description is present, against it as well.
"""

from __future__ import annotations

import time
from typing import Any

import phonenumbers
from flask import Flask, Response, jsonify, request

from telephony.simulator import errors
from telephony.simulator.errors import ApiError
from telephony.simulator.network import Network
from telephony.simulator.openapi import SpecValidator
from telephony.simulator.records import API_VERSION, SimCall, SimMessage, new_sid

CALLS = f"/{API_VERSION}/Accounts/{{AccountSid}}/Calls.json"
CALL = f"/{API_VERSION}/Accounts/{{AccountSid}}/Calls/{{Sid}}.json"
MESSAGES = f"/{API_VERSION}/Accounts/{{AccountSid}}/Messages.json"
CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
MACHINE_DETECTION = frozenset({"Enable", "DetectMessageEnd"})


def create_rest_app(network: Network, spec: SpecValidator | None = None) -> Flask:
    """A WSGI app that answers like api.twilio.com for the account of `network`."""
    app = Flask("telephony.simulator.rest")

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> tuple[Response, int]:
        return jsonify(exc.to_json()), exc.status

    @app.before_request
    def authenticate_and_inject_faults() -> tuple[Response, int] | None:
        auth = request.authorization
        if auth is None or auth.username != network.account_sid or auth.password != network.auth_token:
            error = ApiError(401, errors.AUTHENTICATE, "Authenticate")
            return jsonify(error.to_json()), 401
        if request.path.startswith("/_simulator/"):
            return None  # the simulator's own control API: no Twilio faults there
        account = (request.view_args or {}).get("account_sid")
        if account is not None and account != network.account_sid:
            error = ApiError(404, errors.NOT_FOUND, f"The requested resource {request.path} was not found")
            return jsonify(error.to_json()), 404
        fault = network.faults.take()
        if fault is None:
            return None
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)  # a slow network is real time by nature
        if fault.status >= 400:
            message = "Too Many Requests" if fault.status == 429 else "Internal Server Error"
            error = ApiError(fault.status, fault.code or fault.status, message)
            return jsonify(error.to_json()), fault.status
        return None

    @app.post(f"/{API_VERSION}/Accounts/<account_sid>/Calls.json")
    def create_call(account_sid: str) -> tuple[Response, int]:
        form = _form()
        call = _new_call(network, form)  # Twilio's own checks and codes first, then its published description
        if spec is not None:
            spec.validate(CALLS, "post", form)
        network.launch_outbound(call)
        return jsonify(call.to_json()), 201

    @app.get(f"/{API_VERSION}/Accounts/<account_sid>/Calls.json")
    def list_calls(account_sid: str) -> Response:
        calls = network.list_calls()
        for key, attr in (("To", "to"), ("From", "from_"), ("Status", "status"),
                          ("ParentCallSid", "parent_call_sid")):
            if request.args.get(key):
                calls = [c for c in calls if getattr(c, attr) == request.args[key]]
        page_size = int(request.args.get("PageSize", 50))
        uri = request.full_path.rstrip("?")
        return jsonify({
            "calls": [c.to_json() for c in calls[:page_size]],
            "end": min(len(calls), page_size) - 1,
            "first_page_uri": uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        })

    @app.get(f"/{API_VERSION}/Accounts/<account_sid>/Calls/<sid>.json")
    def fetch_call(account_sid: str, sid: str) -> Response:
        return jsonify(_call_or_404(network, sid).to_json())

    @app.post(f"/{API_VERSION}/Accounts/<account_sid>/Calls/<sid>.json")
    def update_call(account_sid: str, sid: str) -> Response:
        call = _call_or_404(network, sid)
        form = _form()
        if spec is not None:
            spec.validate(CALL, "post", form)
        _update_call(network, call, form)
        return jsonify(call.to_json())

    @app.post(f"/{API_VERSION}/Accounts/<account_sid>/Messages.json")
    def create_message(account_sid: str) -> tuple[Response, int]:
        form = _form()
        message = _new_message(network, form)
        if spec is not None:
            spec.validate(MESSAGES, "post", form)
        network.add_message(message)
        return jsonify(message.to_json()), 201

    @app.get(f"/{API_VERSION}/Accounts/<account_sid>/Messages.json")
    def list_messages(account_sid: str) -> Response:
        # Twilio filters on To and From; newest first, one page of PageSize (default 50, at most 1000).
        to, from_ = request.args.get("To"), request.args.get("From")
        page_size = request.args.get("PageSize", "50")
        if not page_size.isdigit() or not 1 <= int(page_size) <= 1000:
            raise ApiError(400, errors.INVALID_PARAMETER, f"Invalid PageSize: {page_size}")
        messages = [
            m for m in reversed(network.messages) if (to is None or m.to == to) and (from_ is None or m.from_ == from_)
        ][: int(page_size)]
        return jsonify({"messages": [m.to_json() for m in messages], "page": 0, "page_size": int(page_size),
                        "start": 0, "end": len(messages) - 1, "uri": request.path,
                        "first_page_uri": request.path, "next_page_uri": None, "previous_page_uri": None})

    return app


def _form() -> dict[str, list[str]]:
    return {key: request.form.getlist(key) for key in request.form}


def _one(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[-1] if values else None


def _call_or_404(network: Network, sid: str) -> SimCall:
    call = network.get_call(sid)
    if call is None:
        raise ApiError(404, errors.NOT_FOUND, f"The requested resource {request.path} was not found")
    return call


def is_dialable(number: str) -> bool:
    """Whether the network can reach `number`: a valid E.164 number or a client:/sip: address."""
    if number.startswith(("client:", "sip:")):
        return True
    if not number.startswith("+"):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return False


def _bool(form: dict[str, list[str]], name: str) -> bool:
    return (_one(form, name) or "false").lower() == "true"


def _int(form: dict[str, list[str]], name: str, default: int) -> int:
    raw = _one(form, name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, errors.INVALID_PARAMETER, f"Invalid {name}: {raw!r} is not an integer") from None


def _method(form: dict[str, list[str]], name: str) -> str:
    method = (_one(form, name) or "POST").upper()
    if method not in {"GET", "POST"}:
        raise ApiError(400, errors.INVALID_METHOD, f"{name} must be GET or POST")
    return method


def _new_call(network: Network, form: dict[str, list[str]]) -> SimCall:
    to, from_ = _one(form, "To"), _one(form, "From")
    if not to:
        raise ApiError(400, errors.TO_REQUIRED, "No 'To' number is specified")
    if not from_:
        raise ApiError(400, errors.FROM_REQUIRED, "No 'From' number is specified")
    url, twiml, application = _one(form, "Url"), _one(form, "Twiml"), _one(form, "ApplicationSid")
    if not (url or twiml or application):
        raise ApiError(400, errors.URL_REQUIRED,
                       "Url parameter is required. Please provide a Url, Twiml or ApplicationSid.")
    if application:
        raise ApiError(400, errors.INVALID_PARAMETER, "The simulator has no TwiML Applications: use Url or Twiml")
    if url and not url.startswith(("http://", "https://")):
        raise ApiError(400, errors.URL_REQUIRED, f"Url is not a valid URL: {url}")
    if not is_dialable(to):
        raise ApiError(400, errors.INVALID_TO, f"The 'To' number {to} is not a valid phone number.")
    if not is_dialable(from_):
        raise ApiError(400, errors.INVALID_FROM, f"The 'From' number {from_} is not a valid phone number, "
                                                 "shortcode, or alphanumeric sender ID.")
    events = tuple(value for raw in form.get("StatusCallbackEvent", []) for value in raw.split())
    unknown = [e for e in events if e not in CALL_EVENTS]
    if unknown:
        raise ApiError(400, errors.INVALID_STATUS_CALLBACK_EVENT, f"Invalid StatusCallbackEvent: {unknown[0]}")
    detection = _one(form, "MachineDetection")
    if detection is not None and detection not in MACHINE_DETECTION:
        raise ApiError(400, errors.INVALID_PARAMETER, f"Invalid MachineDetection: {detection}")
    now = network.clock.now()
    return SimCall(
        sid=new_sid("CA"), account_sid=network.account_sid, from_=from_, to=to, direction="outbound-api",
        date_created=now, date_updated=now, status="queued", url=url, method=_method(form, "Method"),
        twiml=twiml, fallback_url=_one(form, "FallbackUrl"), fallback_method=_method(form, "FallbackMethod"),
        status_callback=_one(form, "StatusCallback"),
        status_callback_method=_method(form, "StatusCallbackMethod"),
        status_callback_events=events or ("completed",), machine_detection=detection,
        async_amd=_bool(form, "AsyncAmd"), async_amd_status_callback=_one(form, "AsyncAmdStatusCallback"),
        timeout_seconds=min(max(_int(form, "Timeout", 60), 5), 600),
        time_limit_seconds=_int(form, "TimeLimit", 14400), send_digits=_one(form, "SendDigits"),
    )


def _update_call(network: Network, call: SimCall, form: dict[str, list[str]]) -> None:
    url, twiml, status = _one(form, "Url"), _one(form, "Twiml"), _one(form, "Status")
    if status is not None and status not in {"completed", "canceled"}:
        raise ApiError(400, errors.INVALID_PARAMETER, f"Invalid Status: {status}")
    if url and not url.startswith(("http://", "https://")):
        raise ApiError(400, errors.URL_REQUIRED, f"Url is not a valid URL: {url}")
    if call.is_final:
        if url or twiml:
            raise ApiError(400, errors.NOT_IN_PROGRESS, "Call is not in-progress. Cannot redirect.")
        return  # ending a call that has ended changes nothing
    update: dict[str, Any] = {}
    if status == "canceled" and call.status not in {"queued", "ringing"}:
        return  # Twilio ignores cancel for a call that is already answered
    if status and call.status == "queued" and call.start_time is None:
        # Not started yet (waiting for its CPS slot): it ends here and never rings.
        with network.lock:
            call.status = "canceled"
            call.end_time = call.date_updated = network.clock.now()
        return
    if status:
        update["status"] = status
    elif url:
        update.update(url=url, method=_method(form, "Method"))
    elif twiml:
        update["twiml"] = twiml
    else:
        return
    network.request_update(call, update)


def _new_message(network: Network, form: dict[str, list[str]]) -> SimMessage:
    to, from_, body = _one(form, "To"), _one(form, "From"), _one(form, "Body")
    if not to:
        raise ApiError(400, errors.MESSAGE_TO_REQUIRED, "A 'To' phone number is required.")
    if not from_ and not _one(form, "MessagingServiceSid"):
        raise ApiError(400, errors.MESSAGE_FROM_REQUIRED, "A 'From' phone number is required.")
    if not body and not form.get("MediaUrl"):
        raise ApiError(400, errors.MESSAGE_BODY_REQUIRED, "Message body is required.")
    if not is_dialable(to) or to.startswith(("client:", "sip:")):
        raise ApiError(400, errors.INVALID_TO, f"The 'To' number {to} is not a valid phone number.")
    kind = phonenumbers.number_type(phonenumbers.parse(to))
    if kind not in {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}:
        raise ApiError(400, errors.NOT_MOBILE, f"The 'To' number {to} is not a mobile number")
    if to in network.blocked_numbers:
        raise ApiError(400, errors.UNSUBSCRIBED, "Attempt to send to unsubscribed recipient")
    callback = _one(form, "StatusCallback")
    if callback is not None and not callback.startswith(("http://", "https://")):
        raise ApiError(400, errors.INVALID_STATUS_CALLBACK, f"Invalid StatusCallback URL: {callback}")
    if body and len(body) > 1600:
        raise ApiError(400, errors.BODY_TOO_LONG, "The concatenated message body exceeds the 1600 character limit.")
    return SimMessage(sid=new_sid("SM"), account_sid=network.account_sid, from_=from_ or "", to=to,
                      body=body or "", direction="outbound-api", date_created=network.clock.now(),
                      status="queued", status_callback=_one(form, "StatusCallback"))
