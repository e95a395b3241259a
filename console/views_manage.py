"""Incidents, intents, queues (settings, hours, holidays) and shifts.

Incidents and intents go through the same checks and services as their JSON API (the marshmallow
schema of console/api_incidents.py and routing.intents); queues through callbacks.queue_changes
(routing.queue_settings, then re-planning), shifts through callbacks.staffing (slot capacity:
console/views_capacity.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import select

from callbacks.queue_changes import change_hours, change_queue_settings, close_day, open_day
from callbacks.staffing import add_shift, delete_shift
from console.api_incidents import IncidentSchema
from console.auth import requires, runtime, signed_in_user
from console.blueprint import bp
from console.formatting import moment_text, percent_as_share, percent_text, share_as_percent
from console.models import Role
from console.texts import field_errors, tr, ui_language
from routing import incidents as incident_service
from routing import intents as intent_service
from routing.models import Agent, BusinessHours, Holiday, Queue, Shift
from terugbel.i18n import format_clock, message_id
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import FieldErrors, NotFound

# Sentences for the settings whose domain message names what was typed (it is no message id).
SETTINGS_ERRORS = {
    "timezone": message_id("A time zone like Europe/Amsterdam."),
    "slot_minutes": message_id("One of 5, 10, 15, 20, 30 or 60 minutes."),
}
WEEKDAY_NAMES = (
    message_id("Monday"),
    message_id("Tuesday"),
    message_id("Wednesday"),
    message_id("Thursday"),
    message_id("Friday"),
    message_id("Saturday"),
    message_id("Sunday"),
)


def _helpers() -> dict[str, Any]:
    rt = runtime()
    now = rt.clock.now()
    lang = ui_language()
    zone = rt.settings.timezone
    return {
        "moment": lambda dt: moment_text(dt, zone, lang, now),
        "clock": lambda dt: format_clock(dt, zone, lang),
        "weekday_names": WEEKDAY_NAMES,
        "percent": percent_text,
        "share_as_percent": share_as_percent,
    }


def _csv(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.splitlines() if line.strip()]


def _first_messages(messages: dict[str, Any]) -> dict[str, str]:
    """marshmallow's {field: [messages]} (or nested) as {field: "message; message"}."""
    flat = {}
    for field, value in messages.items():
        if isinstance(value, dict):
            value = [m for v in value.values() for m in (v if isinstance(v, list) else [v])]
        flat[field] = "; ".join(str(m) for m in (value if isinstance(value, list) else [value]))
    return flat


# --- incidents ------------------------------------------------------------------------------------


def _incidents_page(form: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> str:
    rt = runtime()
    with rt.db.session() as session:
        incidents = incident_service.list_incidents(session)
    active = [i for i in incidents if i.state == "active"]
    resolved = [i for i in incidents if i.state != "active"][:20]
    return render_template(
        "incidents.html", active=active, resolved=resolved, form=form or {}, errors=errors or {}, **_helpers()
    )


@bp.get("/incidents")
@requires(Role.SUPERVISOR)
def incidents() -> ResponseReturnValue:
    """Active and recently resolved incidents, and the form to publish one."""
    return _incidents_page()


@bp.post("/incidents")
@requires(Role.SUPERVISOR)
def incident_create() -> ResponseReturnValue:
    """Publish an incident: matching callers hear it before any question."""
    user = signed_in_user()
    rt = runtime()
    form = {
        key: request.form.get(key, "").strip()
        for key in ("title", "message_nl", "message_en", "match_prefixes", "match_products", "expected_fix_at")
    }
    data: dict[str, Any] = {
        "title": form["title"],
        "message_nl": form["message_nl"],
        "message_en": form["message_en"],
        "match_all": bool(request.form.get("match_all")),
        "match_prefixes": _csv(form["match_prefixes"]),
        "match_products": _csv(form["match_products"]),
    }
    form["match_all"] = "1" if data["match_all"] else ""
    errors: dict[str, str] = {}
    if form["expected_fix_at"]:
        try:
            fix = datetime.fromisoformat(form["expected_fix_at"])
            data["expected_fix_at"] = (fix if fix.tzinfo else fix.replace(tzinfo=rt.settings.zone)).isoformat()
        except ValueError:
            errors["expected_fix_at"] = "a date and time like 2026-11-23T12:00"
    try:
        loaded = IncidentSchema().load(data)
    except ValidationError as exc:
        errors.update(_first_messages(exc.messages))  # type: ignore[arg-type]
        loaded = None
    if errors or loaded is None:
        return _incidents_page(form, errors), 422
    with rt.db.session() as session:
        incident_service.create_incident(session, actor=user.username, now=rt.clock.now(), **loaded)
    flash(tr("Saved."))
    return redirect(url_for("console.incidents"))


@bp.post("/incidents/<int:incident_id>/resolve")
@requires(Role.SUPERVISOR)
def incident_resolve(incident_id: int) -> ResponseReturnValue:
    """Resolve an incident: every caller who asked gets one text."""
    user = signed_in_user()
    rt = runtime()
    try:
        with unit_of_work(rt) as session:
            incident_service.resolve_incident(session, incident_id, actor=user.username, now=rt.clock.now())
    except incident_service.IncidentNotFound:
        abort(404)
    flash(tr("Saved."))
    return redirect(url_for("console.incidents"))


# --- intents --------------------------------------------------------------------------------------


def _intent_data(form: Any) -> dict[str, Any]:
    return {
        "name": form.get("name", "").strip(),
        "label_nl": form.get("label_nl", "").strip(),
        "label_en": form.get("label_en", "").strip(),
        "queue": form.get("queue", "").strip(),
        "key": form.get("key", "").strip() or None,
        "phrases_nl": _lines(form.get("phrases_nl", "")),
        "phrases_en": _lines(form.get("phrases_en", "")),
        "active": bool(form.get("active")),
    }


def _intents_page(errors: dict[str, dict[str, str]] | None = None, forms: dict[str, Any] | None = None) -> str:
    rt = runtime()
    with rt.db.session() as session:
        views = [intent_service.intent_view(session, i) for i in intent_service.list_intents(session)]
        queues = session.scalars(select(Queue.name).order_by(Queue.name)).all()
    return render_template(
        "intents.html", intents=views, queues=queues, errors=errors or {}, forms=forms or {}, **_helpers()
    )


@bp.get("/intents")
@requires(Role.SUPERVISOR)
def intents() -> ResponseReturnValue:
    """The menu's intents: label, queue, key and phrases per language."""
    return _intents_page()


@bp.post("/intents")
@requires(Role.SUPERVISOR)
def intent_create() -> ResponseReturnValue:
    """Add an intent."""
    user = signed_in_user()
    rt = runtime()
    data = _intent_data(request.form)
    try:
        with rt.db.session() as session:
            intent_service.create_intent(session, data, actor=user.username, now=rt.clock.now())
    except intent_service.IntentInvalid as exc:
        return _intents_page({"new": _first_messages(exc.errors)}, {"new": data}), 422
    flash(tr("Saved."))
    return redirect(url_for("console.intents"))


@bp.post("/intents/<int:intent_id>")
@requires(Role.SUPERVISOR)
def intent_update(intent_id: int) -> ResponseReturnValue:
    """Change an intent, or delete it."""
    user = signed_in_user()
    rt = runtime()
    data = _intent_data(request.form)
    try:
        with rt.db.session() as session:
            if request.form.get("action") == "delete":
                intent_service.delete_intent(session, intent_id, actor=user.username, now=rt.clock.now())
            else:
                intent_service.update_intent(session, intent_id, data, actor=user.username, now=rt.clock.now())
    except intent_service.IntentNotFound:
        abort(404)
    except intent_service.IntentInvalid as exc:
        key = str(intent_id)
        return _intents_page({key: _first_messages(exc.errors)}, {key: data}), 422
    flash(tr("Saved."))
    return redirect(url_for("console.intents"))


# --- queues: settings, hours, holidays ------------------------------------------------------------


@bp.get("/queues")
@requires(Role.SUPERVISOR)
def queues() -> ResponseReturnValue:
    """Every queue, with a link to its settings."""
    with runtime().db.session() as session:
        rows = session.scalars(select(Queue).order_by(Queue.name)).all()
        holidays = session.scalars(select(Holiday).where(Holiday.queue_id.is_(None)).order_by(Holiday.day)).all()
    return render_template("queues.html", queues=rows, holidays=holidays, errors={}, form={}, **_helpers())


def _queue_page(queue_id: int, errors: dict[str, str] | None = None, form: dict[str, str] | None = None) -> str:
    rt = runtime()
    with rt.db.session() as session:
        queue = session.get(Queue, queue_id)
        if queue is None:
            abort(404)
        hours = {h.weekday: h for h in session.scalars(select(BusinessHours).where(BusinessHours.queue_id == queue_id))}
        holidays = session.scalars(select(Holiday).where(Holiday.queue_id == queue_id).order_by(Holiday.day)).all()
    return render_template(
        "queue.html",
        queue=queue,
        hours=hours,
        holidays=holidays,
        errors=errors or {},
        form=form or {},
        **_helpers(),
    )


@bp.get("/queues/<int:queue_id>")
@requires(Role.SUPERVISOR)
def queue_detail(queue_id: int) -> ResponseReturnValue:
    """One queue: settings, opening hours, closed days, and the way to its callback capacity."""
    return _queue_page(queue_id)


@bp.post("/queues/<int:queue_id>/settings")
@requires(Role.SUPERVISOR)
def queue_settings(queue_id: int) -> ResponseReturnValue:
    """Change a queue's settings."""
    rt = runtime()
    fields = ("label", "timezone", "wait_threshold_seconds", "slot_minutes", "callback_share")
    values = {name: request.form.get(name, "") for name in fields}
    # Supervisors type the callback share as a percentage; the queue keeps it as a fraction.
    settings = values | {"callback_share": percent_as_share(values["callback_share"])}
    try:
        with unit_of_work(rt) as session:
            change_queue_settings(
                session, queue_id=queue_id, values=settings, actor=signed_in_user().username, now=rt.clock.now()
            )
    except NotFound:
        abort(404)
    except FieldErrors as exc:
        # The form asks for a percentage where the domain speaks of a fraction.
        percent = message_id("a percentage above 0 and at most 100 (e.g. 30)")
        shown = exc.errors | ({"callback_share": percent} if "callback_share" in exc.errors else {})
        return _queue_page(queue_id, field_errors(shown, SETTINGS_ERRORS), values), 422
    flash(tr("Saved."))
    return redirect(url_for("console.queue_detail", queue_id=queue_id))


@bp.post("/queues/<int:queue_id>/hours")
@requires(Role.SUPERVISOR)
def queue_hours(queue_id: int) -> ResponseReturnValue:
    """Replace the queue's opening hours."""
    rt = runtime()
    hours = {
        d: (request.form.get(f"opens-{d}", "").strip(), request.form.get(f"closes-{d}", "").strip()) for d in range(7)
    }
    try:
        with unit_of_work(rt) as session:
            change_hours(session, queue_id=queue_id, hours=hours, actor=signed_in_user().username, now=rt.clock.now())
    except NotFound:
        abort(404)
    except FieldErrors as exc:
        form = {f"opens-{d}": o for d, (o, _) in hours.items()} | {f"closes-{d}": c for d, (_, c) in hours.items()}
        return _queue_page(queue_id, field_errors(exc.errors), form), 422
    flash(tr("Saved."))
    return redirect(url_for("console.queue_detail", queue_id=queue_id))


@bp.post("/holidays")
@requires(Role.SUPERVISOR)
def holiday_add() -> ResponseReturnValue:
    """Close one queue, or every queue, on a day."""
    rt = runtime()
    raw_queue = request.form.get("queue_id", "")
    queue_id = int(raw_queue) if raw_queue.isdigit() else None
    form = {"day": request.form.get("day", ""), "name": request.form.get("name", "")}
    try:
        with unit_of_work(rt) as session:
            close_day(session, queue_id=queue_id, actor=signed_in_user().username, now=rt.clock.now(), **form)
    except NotFound:
        abort(404)
    except FieldErrors as exc:
        errors = field_errors(exc.errors)
        if queue_id is not None:
            return _queue_page(queue_id, errors, form), 422
        with rt.db.session() as session:
            rows = session.scalars(select(Queue).order_by(Queue.name)).all()
            holidays = session.scalars(select(Holiday).where(Holiday.queue_id.is_(None))).all()
        page = render_template(
            "queues.html", queues=rows, holidays=holidays, errors=errors, form=form, **_helpers()
        )
        return page, 422
    flash(tr("Saved."))
    if queue_id is not None:
        return redirect(url_for("console.queue_detail", queue_id=queue_id))
    return redirect(url_for("console.queues"))


@bp.post("/holidays/<int:holiday_id>/delete")
@requires(Role.SUPERVISOR)
def holiday_delete(holiday_id: int) -> ResponseReturnValue:
    """Open again on a closed day."""
    rt = runtime()
    try:
        with unit_of_work(rt) as session:
            open_day(session, holiday_id=holiday_id, actor=signed_in_user().username, now=rt.clock.now())
    except NotFound:
        abort(404)
    flash(tr("Saved."))
    return redirect(request.referrer if (request.referrer or "").find("/console/") >= 0 else url_for("console.queues"))


# --- shifts ---------------------------------------------------------------------------------------


def _shifts_page(errors: dict[str, str] | None = None, form: dict[str, str] | None = None) -> str:
    rt = runtime()
    now = rt.clock.now()
    with rt.db.session() as session:
        agents = session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.name)).all()
        shifts = session.execute(
            select(Shift, Agent.name)
            .join(Agent, Agent.id == Shift.agent_id)
            .where(Shift.ends_at > now, Shift.starts_at < now + timedelta(days=7))
            .order_by(Shift.starts_at)
        ).all()
    return render_template(
        "shifts.html", agents=agents, shifts=shifts, errors=errors or {}, form=form or {}, **_helpers()
    )


@bp.get("/shifts")
@requires(Role.SUPERVISOR)
def shifts() -> ResponseReturnValue:
    """Shifts of the coming week, and the form to add one."""
    return _shifts_page()


@bp.post("/shifts")
@requires(Role.SUPERVISOR)
def shift_add() -> ResponseReturnValue:
    """Add a shift; callback capacity follows."""
    rt = runtime()
    form = {
        "agent_id": request.form.get("agent_id", ""),
        "starts": request.form.get("starts", ""),
        "ends": request.form.get("ends", ""),
    }
    try:
        with unit_of_work(rt) as session:
            add_shift(session, zone=rt.settings.timezone, actor=signed_in_user().username, now=rt.clock.now(), **form)
    except FieldErrors as exc:
        return _shifts_page(field_errors(exc.errors), form), 422
    flash(tr("Saved."))
    return redirect(url_for("console.shifts"))


@bp.post("/shifts/<int:shift_id>/delete")
@requires(Role.SUPERVISOR)
def shift_delete(shift_id: int) -> ResponseReturnValue:
    """Remove a shift; promises that no longer fit are moved by us, and the callers told."""
    rt = runtime()
    try:
        with unit_of_work(rt) as session:
            delete_shift(session, shift_id=shift_id, actor=signed_in_user().username, now=rt.clock.now())
    except NotFound:
        abort(404)
    flash(tr("Saved."))
    return redirect(url_for("console.shifts"))
