"""JSON API for a queue's closed days: close a day, open it again; both re-plan the queue's callbacks.

Thin: parse -> callbacks.queue_changes -> render. Promises booked on a day that closes are moved by
us to the nearest slot with room, and each caller is texted the new window.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from callbacks.queue_changes import close_day, open_day
from console.api import api_identity, require_role
from console.models import Role
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import FieldErrors, NotFound

blp = Blueprint("api_closed_days", __name__, url_prefix="/api", description="Closed days of a queue")


class ClosedDaySchema(Schema):
    id = fields.Integer(dump_only=True)
    queue_id = fields.Integer(dump_only=True)
    day = fields.Date(required=True, metadata={"description": "The local day the queue is closed, e.g. 2026-12-24"})
    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=120), validate.Regexp(r"\S")],
        metadata={"description": "What the day is, e.g. 'Christmas Eve'"},
    )


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


@blp.route("/queues/<int:queue_id>/closed-days", methods=["POST"])
@blp.arguments(ClosedDaySchema)
@blp.response(201, ClosedDaySchema)
@blp.alt_response(404, description="No queue with this id")
@require_role(Role.SUPERVISOR)
def add_closed_day(data: dict[str, Any], queue_id: int) -> dict[str, Any]:
    """Close the queue on a day; the callbacks booked on it are moved by us and the callers texted."""
    runtime = _runtime()
    try:
        with unit_of_work(runtime) as session:
            holiday = close_day(
                session,
                queue_id=queue_id,
                day=data["day"].isoformat(),
                name=data["name"],
                actor=api_identity().name,
                now=runtime.clock.now(),
            )
            closed = {"id": holiday.id, "queue_id": holiday.queue_id, "day": holiday.day, "name": holiday.name}
    except NotFound:
        abort(404, message=f"no queue {queue_id}")
    except FieldErrors as exc:
        abort(422, errors={"json": {field: [message] for field, message in exc.errors.items()}})
    return closed


@blp.route("/closed-days/<int:closed_day_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(404, description="No closed day with this id")
@require_role(Role.SUPERVISOR)
def delete_closed_day(closed_day_id: int) -> None:
    """Open the day again: its slots are offered again."""
    runtime = _runtime()
    try:
        with unit_of_work(runtime) as session:
            open_day(session, holiday_id=closed_day_id, actor=api_identity().name, now=runtime.clock.now())
    except NotFound:
        abort(404, message=f"no closed day {closed_day_id}")
