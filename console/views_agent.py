"""The agent view: my next callbacks with each caller's history, my state, the outcome form."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.auth import requires, runtime, signed_in_user
from console.blueprint import bp
from console.formatting import moment_text, window_text
from console.models import Role
from console.queries import agent_desk
from console.texts import field_errors, tr, ui_language
from routing.agents import choose_agent_state
from routing.contacts import record_outcome
from routing.distribution import agent_became_available
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import ChangeRefused, NotFound


def _desk_context(errors: dict[str, str] | None = None) -> dict[str, object]:
    user = signed_in_user()
    rt = runtime()
    now = rt.clock.now()
    desk = None
    lang = ui_language()
    if user.agent_id is not None:
        with rt.db.session() as session:
            desk = agent_desk(session, user.agent_id, now, language=lang)
    zone = rt.settings.timezone
    return {
        "desk": desk,
        "errors": errors or {},
        "window": lambda cb: window_text(cb.window_start, cb.window_end, cb.timezone, lang, now),
        "moment": lambda dt: moment_text(dt, zone, lang, now),
    }


@bp.get("/agent")
@requires(Role.AGENT)
def agent_view() -> ResponseReturnValue:
    """My next callbacks in time order, my state, and contacts waiting for an outcome."""
    return render_template("agent.html", **_desk_context())


@bp.get("/agent/panel")
@requires(Role.AGENT)
def agent_panel() -> ResponseReturnValue:
    """The self-updating part of the agent view (htmx polls it)."""
    return render_template("agent_panel.html", **_desk_context())


@bp.post("/agent/state")
@requires(Role.AGENT)
def agent_state() -> ResponseReturnValue:
    """Set me available or away in one click."""
    user = signed_in_user()
    errors: dict[str, str] = {}
    if user.agent_id is None:
        errors["state"] = tr("Your account is not linked to an agent.")
    else:
        rt = runtime()
        try:
            with rt.db.session() as session:
                state = request.form.get("state", "")
                choose_agent_state(session, agent_id=user.agent_id, state=state, now=rt.clock.now())
        except ChangeRefused as refused:
            errors.update(field_errors({"state": refused.message}))
        else:
            if state == "available":
                # Offer the best waiting caller to the agent at once, as the API does.
                agent_became_available(rt, user.agent_id)
    if request.headers.get("HX-Request"):
        # htmx swaps only 2xx answers in place, so field errors come back as 200 for it.
        return render_template("agent_panel.html", **_desk_context(errors))
    if errors:
        return render_template("agent.html", **_desk_context(errors)), 422
    return redirect(url_for("console.agent_view"))


@bp.post("/agent/outcome/<int:contact_id>")
@requires(Role.AGENT)
def agent_outcome(contact_id: int) -> ResponseReturnValue:
    """Record resolved / follow-up and a note for a contact I handled."""
    user = signed_in_user()
    choice = request.form.get("resolved", "")
    errors: dict[str, str] = {}
    if choice not in ("yes", "no"):
        errors[f"outcome-{contact_id}"] = tr("Choose resolved or follow-up.")
    note = request.form.get("note", "")
    if len(note) > 1000:
        errors[f"note-{contact_id}"] = tr("The note is too long (at most 1000 characters).")
    if user.agent_id is None:
        return render_template("error.html", code=404, message=tr("This page does not exist.")), 404
    if not errors:
        rt = runtime()
        try:
            with unit_of_work(rt) as session:  # the outcome ends wrap-up: a waiting caller is offered after commit
                record_outcome(
                    session,
                    contact_id=contact_id,
                    agent_id=user.agent_id,
                    resolved=choice == "yes",
                    note=note,
                    now=rt.clock.now(),
                )
        except NotFound:
            return render_template("error.html", code=404, message=tr("This page does not exist.")), 404
        except ChangeRefused as refused:
            errors[f"{refused.field}-{contact_id}"] = field_errors({refused.field: refused.message})[refused.field]
    if errors:
        if request.headers.get("HX-Request"):
            return render_template("agent_panel.html", **_desk_context(errors))
        return render_template("agent.html", **_desk_context(errors)), 422
    if request.headers.get("HX-Request"):
        return render_template("agent_panel.html", notice=tr("Outcome recorded."), **_desk_context())
    flash(tr("Outcome recorded."))
    return redirect(url_for("console.agent_view"))
