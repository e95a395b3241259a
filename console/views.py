"""The agent and supervisor console under /console (server-rendered, htmx for partial updates).

`bp` lives in console/blueprint.py; importing this module registers every page of the console on it.
Each view parses and validates its input, calls one service or query function, and renders.
"""

from __future__ import annotations

from flask import g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from console import auth
from console.auth import current_user, requires, runtime
from console.blueprint import bp
from console.models import Role
from console.texts import audit_action, audit_subject, explained, promise_reason, tr
from console.users import set_user_language
from terugbel.i18n import message_id

__all__ = ["bp"]


@bp.before_request
def _choose_language() -> None:
    user = current_user()
    g.ui_language = user.language if user is not None else session.get("lang", "nl")


@bp.context_processor
def _template_helpers() -> dict[str, object]:
    return {
        "tr": tr,
        "explained": explained,
        "promise_reason": promise_reason,
        "audit_action": audit_action,
        "audit_subject": audit_subject,
        "user": current_user(),
        "Role": Role,
        "ui_language": g.get("ui_language", "nl"),
    }


@bp.get("/")
@requires(Role.AGENT)
def home() -> ResponseReturnValue:
    """Agents start at their callbacks, supervisors at the board."""
    user = auth.signed_in_user()
    return redirect(url_for("console.board" if user.can(Role.SUPERVISOR) else "console.agent_view"))


@bp.post("/language")
def choose_language() -> ResponseReturnValue:
    """Switch the console between Dutch and English (stored on the user when logged in)."""
    language = request.form.get("language", "")
    if language not in ("nl", "en"):
        return render_template("error.html", code=400, message=tr("Something went wrong.")), 400
    session["lang"] = language
    user = current_user()
    if user is not None:
        rt = runtime()
        with rt.db.session() as db_session:
            set_user_language(db_session, user.id, language)
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/console/") else url_for("console.login"))


@bp.errorhandler(HTTPException)
def _console_error(error: HTTPException) -> ResponseReturnValue:
    messages = {403: message_id("You may not open this page."), 404: message_id("This page does not exist.")}
    code = error.code or 500
    if not hasattr(g, "ui_language"):
        g.ui_language = "nl"
    return render_template("error.html", code=code, message=tr(messages.get(code, "Something went wrong."))), code


# The pages register themselves on `bp` when imported.
from console import (  # noqa: E402
    prometheus,  # noqa: F401
    views_admin,  # noqa: F401
    views_agent,  # noqa: F401
    views_board,  # noqa: F401
    views_callers,  # noqa: F401
    views_capacity,  # noqa: F401
    views_manage,  # noqa: F401
    views_metrics,  # noqa: F401
    views_people,  # noqa: F401
    views_rules,  # noqa: F401
)
