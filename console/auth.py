"""Console sessions: Flask-Login with argon2 and lock-out, Flask-WTF's CSRF check, role checks.

Flask-Login keeps who is logged in (the user loader also ends the session of a user locked out
since), Flask-WTF's CSRFProtect refuses every state-changing request without the session's token
in the `csrf_token` field or the `X-CSRF-Token` header (htmx sends the header). The composition root
exempts what is not a browser form with a cookie: Twilio's webhooks (checked by their signature)
and the JSON API (bearer tokens only, console/api.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

import flask_login
from flask import Response, abort, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

from console.blueprint import bp
from console.models import Role, User
from console.texts import tr
from console.users import authenticate
from terugbel.i18n import format_clock
from terugbel.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

# A console tab stays open for a whole shift: its forms must still be accepted at the end of it.
CSRF_MAX_AGE_SECONDS = 12 * 3600
# Where Flask-WTF keeps the session's CSRF secret; it survives the fresh session of a login.
_CSRF_SESSION_KEY = "csrf_token"

csrf = CSRFProtect()
login_manager = flask_login.LoginManager()
login_manager.session_protection = "basic"


@dataclass(frozen=True, eq=False)
class ConsoleUser(flask_login.UserMixin):
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
    user = flask_login.current_user
    return user if isinstance(user, ConsoleUser) else None


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
            refusal = refuse_below(role)
            if refusal is not None:
                return refusal
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def refuse_below(role: Role) -> ResponseReturnValue | None:
    """The answer for a visitor who may not pass (login page, or 403), or None to let them in."""
    user = current_user()
    if user is None:
        return login_manager.unauthorized()
    if not user.can(role):
        abort(403)
    return None


@login_manager.unauthorized_handler
def _to_the_login_page() -> ResponseReturnValue:
    if request.headers.get("HX-Request"):
        # htmx swaps responses in place: tell it to load the login page instead.
        return Response(status=401, headers={"HX-Redirect": url_for("console.login")})
    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


@login_manager.user_loader
def _load_user(user_id: str) -> ConsoleUser | None:
    if not user_id.isdigit():
        return None
    rt = runtime()
    with rt.db.session() as db_session:
        user = db_session.get(User, int(user_id))
        if user is None or (user.locked_until is not None and user.locked_until > rt.clock.now()):
            return None
        return ConsoleUser(
            id=user.id, username=user.username, role=Role(user.role), language=user.language, agent_id=user.agent_id
        )


@bp.errorhandler(CSRFError)
def _form_expired(_error: CSRFError) -> ResponseReturnValue:
    # Refused before the console's own before_request ran: choose the language here.
    user = current_user()
    g.ui_language = user.language if user is not None else session.get("lang", "nl")
    return render_template("error.html", code=400, message=tr("The form expired; please try again.")), 400


@bp.app_template_global()
def console_csrf_token() -> str:
    """The CSRF token for this session's forms (the hidden `csrf_token` field and htmx's header)."""
    return generate_csrf()


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
            _start_fresh_session(user_id)
            return redirect(_safe_next(request.form.get("next")) or url_for("console.home"))
        if result.locked_until is not None:
            error = tr("Too many failed attempts: this account is locked until {time}.").format(
                time=format_clock(result.locked_until, rt.settings.timezone, g.get("ui_language"))
            )
        else:
            error = tr("Unknown username or wrong password.")
    status = 401 if error else 200
    return render_template("login.html", error=error, username=username, next=request.args.get("next", "")), status


def _start_fresh_session(user_id: int) -> None:
    # Nothing of the anonymous session carries over but its CSRF secret, so that a form the
    # visitor opened in another tab before logging in is still accepted.
    csrf_secret = session.get(_CSRF_SESSION_KEY)
    session.clear()
    if csrf_secret:
        session[_CSRF_SESSION_KEY] = csrf_secret
    user = _load_user(str(user_id))
    if user is not None:
        flask_login.login_user(user)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session."""
    flask_login.logout_user()
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
def _secure_the_app(state: Any) -> None:
    app = state.app
    login_manager.init_app(app)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", CSRF_MAX_AGE_SECONDS)
    csrf.init_app(app)
    # Lax keeps the cookie off cross-site POSTs (a second wall behind the CSRF token); Secure when
    # the console is served over https, as it is behind the TLS-terminating proxy in production.
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    runtime_ = app.extensions.get("terugbel")
    base = runtime_.settings.public_base_url if runtime_ is not None else None
    if base and base.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
