"""Console sessions: login with argon2 and lock-out, logout, CSRF on every form, role checks.

CSRF: each session holds a random secret; forms carry it signed with the app's key (itsdangerous,
which Flask already depends on) and every state-changing request under /console must present it in
the `csrf_token` field or the `X-CSRF-Token` header (htmx sends the header). A tiny check instead of
flask-wtf: the console validates its forms itself, so only the token part would be used.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, abort, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer

from console.blueprint import bp
from console.models import Role, User
from console.texts import tr
from console.users import authenticate
from terugbel.i18n import format_clock
from terugbel.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_MAX_AGE_SECONDS = 12 * 3600
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class ConsoleUser:
    """Who is logged in, as the views need it (no ORM object outlives its session)."""

    id: int
    username: str
    role: Role
    language: str
    agent_id: int | None

    def can(self, role: Role) -> bool:
        return self.role.includes(role)


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["terugbel"]
    return rt


def current_user() -> ConsoleUser | None:
    user: ConsoleUser | None = g.get("console_user")
    return user


def signed_in_user() -> ConsoleUser:
    """The logged-in user of a view guarded by `requires`."""
    user = current_user()
    if user is None:
        abort(401)
    return user


def requires(role: Role) -> Callable[[F], F]:
    """Send anonymous visitors to the login page, and refuse (403) users below `role`."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if request.headers.get("HX-Request"):
                    # htmx swaps responses in place: tell it to load the login page instead.
                    return Response(status=401, headers={"HX-Redirect": url_for("console.login")})
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if not user.can(role):
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


# --- CSRF ---------------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="terugbel-console-csrf")


def csrf_token() -> str:
    """The signed CSRF token for this session's forms."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    token: str = _serializer().dumps(session["csrf"])
    return token


def csrf_is_valid(presented: str | None) -> bool:
    expected = session.get("csrf")
    if not presented or not expected:
        return False
    try:
        value = _serializer().loads(presented, max_age=CSRF_MAX_AGE_SECONDS)
    except BadSignature:
        return False
    return isinstance(value, str) and hmac.compare_digest(value, expected)


@bp.before_request
def _load_user_and_check_csrf() -> ResponseReturnValue | None:
    g.console_user = _load_user()
    if request.method in _UNSAFE_METHODS:
        presented = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
        if not csrf_is_valid(presented):
            return render_template("error.html", code=400, message=tr("The form expired; please try again.")), 400
    return None


def _load_user() -> ConsoleUser | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    rt = runtime()
    with rt.db.session() as db_session:
        user = db_session.get(User, user_id)
        if user is None or (user.locked_until is not None and user.locked_until > rt.clock.now()):
            session.pop("user_id", None)
            return None
        return ConsoleUser(
            id=user.id, username=user.username, role=Role(user.role), language=user.language, agent_id=user.agent_id
        )


@bp.app_template_global()
def console_csrf_token() -> str:
    return csrf_token()


# --- login and logout ---------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the login form; on POST check the password, count failures, start the session."""
    error: str | None = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")[:80]
        password = request.form.get("password", "")[:1000]
        rt = runtime()
        now = rt.clock.now()
        with rt.db.session() as db_session:
            result = authenticate(db_session, username=username, password=password, now=now)
            user_id = result.user.id if result.user is not None else None
        if user_id is not None:
            csrf_secret = session.get("csrf")
            session.clear()  # a fresh session on login: nothing of the anonymous one carries over
            session["user_id"] = user_id
            if csrf_secret:
                session["csrf"] = csrf_secret
            return redirect(_safe_next(request.form.get("next")) or url_for("console.home"))
        if result.locked_until is not None:
            error = tr("Too many failed attempts: this account is locked until {time}.").format(
                time=format_clock(result.locked_until, rt.settings.timezone, g.get("ui_language"))
            )
        else:
            error = tr("Unknown username or wrong password.")
    status = 401 if error else 200
    return render_template("login.html", error=error, username=username, next=request.args.get("next", "")), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session."""
    session.clear()
    return redirect(url_for("console.login"))


def _safe_next(target: str | None) -> str | None:
    """Only follow a `next` that stays inside the console (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return None
    return target


@bp.record_once
def _harden_session_cookie(state: Any) -> None:
    # Lax keeps the cookie off cross-site POSTs (a second wall behind the CSRF token); Secure when
    # the console is served over https, as it is behind the TLS-terminating proxy in production.
    app = state.app
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    runtime_ = app.extensions.get("terugbel")
    base = runtime_.settings.public_base_url if runtime_ is not None else None
    if base and base.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
