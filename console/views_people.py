"""Agents (list, add, change, let go) and a new queue: the console's side of setting up a center.

The same changes as the administration API (console/admin_changes.py): checked by routing's
agent_admin and queue_admin, re-planned in the same unit of work. The domain names the wrong
field; the page says what is wrong in the console's language, next to the field.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.admin_changes import add_agent, add_queue, change_agent
from console.auth import requires, runtime, signed_in_user
from console.blueprint import bp
from console.models import Role
from console.texts import tr
from console.views_manage import WEEKDAY_NAMES
from routing.agent_admin import PHONE_TAKEN
from routing.models import Agent, Queue
from routing.queue_settings import SLOT_MINUTES
from terugbel.i18n import message_id
from terugbel.phone import display_number
from terugbel.validation import FieldErrors, NotFound

LANGUAGE_NAMES = {"nl": message_id("Dutch"), "en": message_id("English")}

# What each wrong field is told, in the console's language (the domain's messages are English).
AGENT_ERRORS = {
    "name": message_id("Give a name of 1 to 120 characters."),
    "phone": message_id("Not a phone number we can call (e.g. 06 12345678 or +31 6 12345678)."),
    "skills": message_id("Choose at least one queue."),
    "language": message_id("Choose Dutch or English."),
    "active": message_id("Choose active or not."),
    "confirm": message_id("Tick the box to confirm."),
}
PHONE_TAKEN_TEXT = message_id("Another active agent has this number.")
QUEUE_ERRORS = {
    "name": message_id("1 to 60 lower-case letters, digits, '-' or '_', not used by another queue."),
    "skill": message_id("1 to 60 lower-case letters, digits, '-' or '_'."),
    "label": message_id("Give a label of 1 to 120 characters."),
    "timezone": message_id("A time zone like Europe/Amsterdam."),
    "holiday_country": message_id("A country code like NL or BE, or empty."),
    "callback_share_percent": message_id("A percentage above 0 and at most 100 (e.g. 30)."),
    "slot_minutes": message_id("One of 5, 10, 15, 20, 30 or 60 minutes."),
    "default_handle_seconds": message_id("A whole number of seconds from 60 to 7200."),
    "wait_threshold_seconds": message_id("A whole number of seconds from 0 to 3600."),
    "callback_lead_minutes": message_id("A whole number of minutes from 0 to 240."),
    "overflow_queue_id": message_id("Choose another queue, or none."),
    "hours": message_id("Give both times of a day, the closing time after the opening time (e.g. 08:30 and 17:00)."),
}


def _translated(errors: dict[str, str], texts: dict[str, str]) -> dict[str, str]:
    shown = {}
    for field, message in errors.items():
        if field == "phone" and message == PHONE_TAKEN:
            shown[field] = tr(PHONE_TAKEN_TEXT)
        else:
            shown[field] = tr(texts.get(field, message))
    return shown


def _agent_form() -> dict[str, Any]:
    return {
        "name": request.form.get("name", ""),
        "phone": request.form.get("phone", ""),
        "skills": request.form.getlist("skills"),
        "language": request.form.get("language", "nl"),
    }


def _queues() -> list[Queue]:
    with runtime().db.session() as session:
        return list(session.scalars(select(Queue).order_by(Queue.label)))


def _agents_page(form: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> str:
    with runtime().db.session() as session:
        agents = session.scalars(select(Agent).order_by(Agent.active.desc(), Agent.name)).all()
    queues = _queues()
    return render_template(
        "agents.html",
        agents=agents,
        queues=queues,
        labels={q.skill: q.label for q in queues},
        form=form or {"name": "", "phone": "", "skills": [], "language": "nl"},
        errors=errors or {},
        language_names=LANGUAGE_NAMES,
        display_number=display_number,
    )


@bp.get("/agents")
@requires(Role.SUPERVISOR)
def agents() -> ResponseReturnValue:
    """Every agent (those let go last), and the form to add one."""
    return _agents_page()


@bp.post("/agents")
@requires(Role.SUPERVISOR)
def agent_add() -> ResponseReturnValue:
    """Add an agent; errors are shown next to their field."""
    form = _agent_form()
    try:
        add_agent(runtime(), form, signed_in_user().username)
    except FieldErrors as exc:
        return _agents_page(form, _translated(exc.errors, AGENT_ERRORS)), 422
    flash(tr("Saved."))
    return redirect(url_for("console.agents"))


def _edit_page(agent_id: int, form: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> str:
    with runtime().db.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            abort(404)
        current = {"name": agent.name, "phone": agent.phone, "skills": list(agent.skills), "language": agent.language}
    return render_template(
        "agent_edit.html",
        agent=agent,
        queues=_queues(),
        form=form or current,
        errors=errors or {},
        language_names=LANGUAGE_NAMES,
        display_number=display_number,
    )


@bp.get("/agents/<int:agent_id>")
@requires(Role.SUPERVISOR)
def agent_edit(agent_id: int) -> ResponseReturnValue:
    """One agent's name, phone, queues and language; and the way to let them go."""
    return _edit_page(agent_id)


@bp.post("/agents/<int:agent_id>")
@requires(Role.SUPERVISOR)
def agent_update(agent_id: int) -> ResponseReturnValue:
    """Change an agent; a change of queues re-plans the callbacks of those queues."""
    form = _agent_form()
    try:
        change_agent(runtime(), agent_id, form, signed_in_user().username)
    except NotFound:
        abort(404)
    except FieldErrors as exc:
        return _edit_page(agent_id, form, _translated(exc.errors, AGENT_ERRORS)), 422
    flash(tr("Saved."))
    return redirect(url_for("console.agents"))


@bp.post("/agents/<int:agent_id>/active")
@requires(Role.SUPERVISOR)
def agent_active(agent_id: int) -> ResponseReturnValue:
    """Let an agent go (after the confirmation box is ticked), or take them back."""
    active = request.form.get("active") == "1"
    if not active and request.form.get("confirm") != "1":
        return _edit_page(agent_id, errors={"confirm": tr(AGENT_ERRORS["confirm"])}), 422
    try:
        change_agent(runtime(), agent_id, {"active": active}, signed_in_user().username)
    except NotFound:
        abort(404)
    except FieldErrors as exc:
        return _edit_page(agent_id, errors=_translated(exc.errors, AGENT_ERRORS)), 422
    flash(tr("Saved."))
    return redirect(url_for("console.agents"))


# --- a new queue ------------------------------------------------------------------------------------

_QUEUE_FIELDS = (
    "name",
    "label",
    "callback_share_percent",
    "slot_minutes",
    "default_handle_seconds",
)


def _queue_form() -> dict[str, str]:
    form = {name: request.form.get(name, "").strip() for name in _QUEUE_FIELDS}
    for day in range(7):
        form[f"opens-{day}"] = request.form.get(f"opens-{day}", "").strip()
        form[f"closes-{day}"] = request.form.get(f"closes-{day}", "").strip()
    return form


def _queue_values(form: dict[str, str]) -> dict[str, Any]:
    hours = [
        {"weekday": day, "opens": form[f"opens-{day}"], "closes": form[f"closes-{day}"]}
        for day in range(7)
        if form[f"opens-{day}"] or form[f"closes-{day}"]
    ]
    values: dict[str, Any] = {name: form[name] for name in _QUEUE_FIELDS}
    return values | {"hours": hours}


def _new_queue_page(form: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> str:
    default = {"callback_share_percent": "30", "slot_minutes": "15", "default_handle_seconds": "360"}
    return render_template(
        "queue_new.html",
        form=form or default,
        errors=errors or {},
        weekday_names=WEEKDAY_NAMES,
        slot_choices=SLOT_MINUTES,
    )


@bp.get("/queues/new")
@requires(Role.SUPERVISOR)
def queue_new() -> ResponseReturnValue:
    """The form for a new queue: name, label, callback share, slot length, handle time, hours."""
    return _new_queue_page()


@bp.post("/queues/new")
@requires(Role.SUPERVISOR)
def queue_create() -> ResponseReturnValue:
    """Add a queue and plan its callback slots; errors are shown next to their field."""
    form = _queue_form()
    try:
        queue_id = add_queue(runtime(), _queue_values(form), signed_in_user().username)
    except FieldErrors as exc:
        return _new_queue_page(form, _translated(exc.errors, QUEUE_ERRORS)), 422
    flash(tr("Saved."))
    return redirect(url_for("console.queue_detail", queue_id=queue_id))
