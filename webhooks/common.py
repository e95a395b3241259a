"""What every Twilio-facing webhook shares: the signature check, Twilio's parameters made safe to
store and bounded, the XML response, and the first half of never a dead line (which failures are
the request's fault, and logging the others without personal data).

Every /twilio/* request needs a valid X-Twilio-Signature: missing or wrong -> 403.
"""

from __future__ import annotations

from flask import Request, Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from telephony.signing import SIGNATURE_HEADER
from terugbel.logs import bind_call, get_logger
from terugbel.runtime import Runtime

log = get_logger(__name__)

XML = "text/xml; charset=utf-8"
MAX_SID = 40
MAX_DIGITS = 32


def webhook_runtime() -> Runtime:
    """The runtime of the app serving this request."""
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def xml_response(body: str, status: int = 200) -> Response:
    """A TwiML document as Twilio expects it."""
    return Response(body, status=status, content_type=XML)


# --- Twilio's parameters ---------------------------------------------------------------------------


def form_value(name: str) -> str | None:
    """The form parameter `name` without NUL characters (PostgreSQL text cannot hold them).

    The signature check reads the raw form; everything the app keeps goes through here.
    """
    value = request.form.get(name)
    return None if value is None else value.replace("\x00", "")


def bounded_param(name: str, limit: int) -> str | None:
    """The form parameter `name`, cut to `limit` characters (None when absent)."""
    value = form_value(name)
    if value is None:
        return None
    return value[:limit]


def int_param(name: str) -> int | None:
    """The form parameter `name` as a whole number of at most nine digits, else None."""
    raw = (form_value(name) or "").strip()
    if not raw or len(raw) > 9 or not raw.lstrip("-").isdigit():
        return None
    return int(raw)


def required_call_sid() -> str:
    """The request's CallSid; a request without one (or with a nonsense one) is refused with 400."""
    sid = (form_value("CallSid") or "").strip()
    if not sid or len(sid) > MAX_SID:
        abort(400, "CallSid is required")
    return sid


# --- the signature -----------------------------------------------------------------------------------


def signed_url(request: Request, public_base_url: str | None) -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path (+ query) when set, else the URL seen through ProxyFix."""
    if not public_base_url:
        return request.url
    query = request.query_string.decode("latin-1")
    return f"{public_base_url.rstrip('/')}{request.path}" + (f"?{query}" if query else "")


def has_valid_signature(request: Request, auth_token: str | None, public_base_url: str | None) -> bool:
    """Whether the request carries the signature Twilio computes with our auth token."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature or not auth_token:
        return False
    # The form as a MultiDict: Twilio signs every value of a repeated parameter.
    params = request.form if request.method == "POST" else {}
    try:
        return bool(RequestValidator(auth_token).validate(signed_url(request, public_base_url), params, signature))
    except (ValueError, TypeError, UnicodeError):
        return False


def refuse_unsigned() -> Response | None:
    """Before each request: 403 without Twilio's valid signature; else tag the logs with the call."""
    runtime = webhook_runtime()
    if not has_valid_signature(request, runtime.settings.twilio_auth_token, runtime.settings.public_base_url):
        log.warning("twilio request refused: bad or missing signature", path=request.path)
        return Response("invalid signature", status=403, content_type="text/plain")
    bind_call(form_value("CallSid") or form_value("MessageSid"))
    return None


# --- failures ------------------------------------------------------------------------------------------


def request_error_response(error: Exception) -> BaseResponse | None:
    """The 4xx answer of a request Twilio sent wrong; None for a failure of ours."""
    if isinstance(error, HTTPException) and (error.code or 500) < 500:
        return error.get_response()
    return None


def log_failure(event: str, error: Exception) -> None:
    """Log a webhook's failure; database errors by kind only (their parameters hold phone numbers)."""
    if isinstance(error, SQLAlchemyError):
        log.error(event, path=request.path, error=type(error).__name__)
    else:
        log.exception(event, path=request.path, error=type(error).__name__)
