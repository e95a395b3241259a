"""Callers for supervisors: search by number or name, a caller's page and edit form, erasure on request.

Finding and changing go through routing.caller_admin (the checks and the audit of /api/callers);
erasing through privacy.erasure.erase_caller, after a confirmation page, in one unit of work.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.auth import requires, runtime, signed_in_user
from console.blueprint import bp
from console.formatting import moment_text
from console.models import Role
from console.texts import tr, ui_language
from privacy.erasure import Erasure, erase_caller
from routing import caller_admin
from routing.history import caller_history
from routing.models import ContactOutcome
from terugbel.i18n import message_id
from terugbel.phone import display_number
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import ChangeRefused, FieldErrors, NotFound

HISTORY_DAYS = 365  # the caller's page shows the contacts of the last year

OUTCOME_TEXTS = {
    ContactOutcome.IN_PROGRESS.value: message_id("in progress"),
    ContactOutcome.AGENT.value: message_id("reached an agent"),
    ContactOutcome.CALLBACK_BOOKED.value: message_id("callback booked"),
    ContactOutcome.INFORMED_BY_INCIDENT.value: message_id("told about an incident"),
    ContactOutcome.ANSWERED.value: message_id("answered by the menu"),
    ContactOutcome.ABANDONED.value: message_id("hung up"),
    ContactOutcome.FAILED.value: message_id("failed"),
}

# The console's words for what routing.caller_admin refuses, field by field.
FIELD_ERRORS = {
    "name": message_id("At most 120 characters, without control characters."),
    "language": message_id("Choose Dutch, English or unknown."),
    "vip": message_id("Tick the box or leave it empty."),
    "q": message_id("Type a part of a name or a number (at most 120 characters)."),
}


def _helpers() -> dict[str, Any]:
    rt = runtime()
    now = rt.clock.now()
    lang = ui_language()
    return {
        "moment": lambda dt: moment_text(dt, rt.settings.timezone, lang, now),
        "shown_number": display_number,
        "outcome_text": _outcome_text,
    }


def _outcome_text(outcome: str) -> str:
    return tr(OUTCOME_TEXTS.get(outcome, outcome))


def _console_errors(exc: FieldErrors) -> dict[str, str]:
    return {field: tr(FIELD_ERRORS.get(field, "Something went wrong.")) for field in exc.errors}


@bp.get("/callers")
@requires(Role.SUPERVISOR)
def callers() -> ResponseReturnValue:
    """Search callers by a part of their number (any spelling) or of their name."""
    query = request.args.get("q", "")
    found: list[caller_admin.CallerSummary] | None = None
    errors: dict[str, str] = {}
    if query.strip():
        try:
            with runtime().db.session() as session:
                found = caller_admin.search_callers(session, query)
        except FieldErrors as exc:
            errors = _console_errors(exc)
    page = render_template("callers.html", query=query, found=found, errors=errors, **_helpers())
    return page, 422 if errors else 200


def _caller_page(caller_id: int, form: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> str:
    rt = runtime()
    try:
        with rt.db.session() as session:
            caller = caller_admin.caller_summary(session, caller_id)
            history = caller_history(session, caller_id, rt.clock.now(), HISTORY_DAYS)
    except NotFound:
        abort(404)
    return render_template(
        "caller.html",
        caller=caller,
        history=history,
        history_days=HISTORY_DAYS,
        form=form
        if form is not None
        else {"name": caller.name or "", "language": caller.language or "", "vip": caller.vip},
        errors=errors or {},
        **_helpers(),
    )


@bp.get("/callers/<int:caller_id>")
@requires(Role.SUPERVISOR)
def caller_detail(caller_id: int) -> ResponseReturnValue:
    """One caller: what we keep of them, their contacts, the edit form and the way to erase them."""
    return _caller_page(caller_id)


@bp.post("/callers/<int:caller_id>")
@requires(Role.SUPERVISOR)
def caller_update(caller_id: int) -> ResponseReturnValue:
    """Change the caller's name, language and VIP (audited without the name)."""
    rt = runtime()
    form = {
        "name": request.form.get("name", ""),
        "language": request.form.get("language", "") or None,
        "vip": request.form.get("vip") == "1",
    }
    try:
        with unit_of_work(rt) as session:
            caller_admin.update_caller(session, caller_id, form, actor=signed_in_user().username, now=rt.clock.now())
    except NotFound:
        abort(404)
    except FieldErrors as exc:
        return _caller_page(caller_id, {**form, "language": form["language"] or ""}, _console_errors(exc)), 422
    flash(tr("Saved."))
    return redirect(url_for("console.caller_detail", caller_id=caller_id))


def _erase_page(caller_id: int, *, error: str | None = None, erasure: Erasure | None = None) -> str:
    caller = None
    if erasure is None:
        try:
            with runtime().db.session() as session:
                caller = caller_admin.caller_summary(session, caller_id)
        except NotFound:
            abort(404)
    return render_template("caller_erase.html", caller=caller, caller_id=caller_id, error=error, erasure=erasure,
                           **_helpers())  # fmt: skip


@bp.get("/callers/<int:caller_id>/erase")
@requires(Role.SUPERVISOR)
def caller_erase_confirm(caller_id: int) -> ResponseReturnValue:
    """What erasing the caller does, and the confirmation it needs."""
    return _erase_page(caller_id)


@bp.post("/callers/<int:caller_id>/erase")
@requires(Role.SUPERVISOR)
def caller_erase(caller_id: int) -> ResponseReturnValue:
    """Erase the caller once confirmed; a callback under way refuses it (409) and changes nothing."""
    rt = runtime()
    if request.form.get("confirm") != "yes":
        return _erase_page(caller_id, error=tr("Tick the box to confirm that this caller is to be erased.")), 422
    try:
        with unit_of_work(rt) as session:
            erasure = erase_caller(session, caller_id, actor=signed_in_user().username, now=rt.clock.now())
    except NotFound:
        abort(404)
    except ChangeRefused:
        message = tr("A callback to this caller is under way. Erase them when it has ended.")
        return _erase_page(caller_id, error=message), 409
    return _erase_page(caller_id, erasure=erasure)
