"""A queue's callback capacity as one week grid, saved in one POST through callbacks.staffing."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from callbacks.models import CallbackSlot
from callbacks.offers import ensure_slots
from callbacks.staffing import set_slot_capacities, set_slot_capacity
from console.auth import requires, runtime, signed_in_user
from console.blueprint import bp
from console.capacity_grid import SlotFacts, WeekGrid, changed_overrides, week_bounds, week_grid
from console.models import Role
from console.texts import field_errors, tr, ui_language
from routing.models import Queue
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import FieldErrors, NotFound


def _first_day(raw: str | None) -> date:
    rt = runtime()
    today = rt.clock.now().astimezone(rt.settings.zone).date()
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            abort(404)
    return today


def _load_grid(queue_id: int, first: date) -> tuple[Queue, WeekGrid]:
    """The week's slots; those not yet made are made now with capacity from the shifts, so every
    slot of the week can be set ahead."""
    rt = runtime()
    now = rt.clock.now()
    with unit_of_work(rt) as session:
        queue = session.get(Queue, queue_id)
        if queue is None:
            abort(404)
        start, end = week_bounds(first, queue.timezone)
        if end > now:
            ensure_slots(session, queue_id, max(start, now), end, now)
        slots = [
            SlotFacts(
                slot_id=s.id,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                capacity=s.capacity,
                capacity_override=s.capacity_override,
                closed=s.closed,
                booked=s.booked,
            )
            for s in session.scalars(
                select(CallbackSlot)
                .where(CallbackSlot.queue_id == queue_id, CallbackSlot.starts_at >= start, CallbackSlot.starts_at < end)
                .order_by(CallbackSlot.starts_at)
            )
        ]
    return queue, week_grid(slots, first, queue.timezone, now)


def _grid_page(
    queue_id: int, first: date, errors: dict[str, str] | None = None, posted: dict[str, str] | None = None
) -> str:
    queue, grid = _load_grid(queue_id, first)
    lang = ui_language()
    return render_template(
        "capacity.html",
        queue=queue,
        grid=grid,
        errors=errors or {},
        posted=posted or {},
        day_label=lambda day: format_date(day, "EEE d MMM", locale=lang),
        day_name=lambda day: format_date(day, "EEEE d MMMM", locale=lang),
    )


@bp.get("/queues/<int:queue_id>/capacity")
@requires(Role.SUPERVISOR)
def capacity_grid(queue_id: int) -> ResponseReturnValue:
    """Seven days of slots from `from` (default today): booked / capacity, each capacity editable."""
    return _grid_page(queue_id, _first_day(request.args.get("from")))


@bp.post("/queues/<int:queue_id>/capacity")
@requires(Role.SUPERVISOR)
def capacity_grid_save(queue_id: int) -> ResponseReturnValue:
    """Save every changed cell of the week at once; promises that no longer fit are moved by us."""
    rt = runtime()
    first = _first_day(request.form.get("from"))
    _queue, grid = _load_grid(queue_id, first)
    overrides = changed_overrides(request.form, grid)
    try:
        with unit_of_work(rt) as session:
            set_slot_capacities(
                session, queue_id=queue_id, overrides=overrides, actor=signed_in_user().username, now=rt.clock.now()
            )
    except NotFound:
        abort(404)
    except FieldErrors as exc:
        posted = {key: value for key, value in request.form.items() if key.startswith("cap-")}
        return _grid_page(queue_id, first, field_errors(exc.errors), posted), 422
    flash(tr("Saved {count} slots.").format(count=len(overrides)))
    return redirect(f"{url_for('console.capacity_grid', queue_id=queue_id)}?from={first.isoformat()}")


@bp.post("/slots/<int:slot_id>/capacity")
@requires(Role.SUPERVISOR)
def slot_capacity(slot_id: int) -> ResponseReturnValue:
    """Override one slot's capacity or close it; promises that no longer fit are moved by us."""
    rt = runtime()
    with rt.db.session() as session:
        slot = session.get(CallbackSlot, slot_id)
        if slot is None:
            abort(404)
        queue_id, day = slot.queue_id, slot.starts_at.astimezone(rt.settings.zone).date()
    try:
        with unit_of_work(rt) as session:
            set_slot_capacity(
                session,
                slot_id=slot_id,
                override=request.form.get("override", ""),
                closed=bool(request.form.get("closed")),
                actor=signed_in_user().username,
                now=rt.clock.now(),
            )
    except FieldErrors as exc:
        return _grid_page(queue_id, day, field_errors(exc.errors)), 422
    flash(tr("Saved."))
    return redirect(f"{url_for('console.capacity_grid', queue_id=queue_id)}?from={day.isoformat()}")
