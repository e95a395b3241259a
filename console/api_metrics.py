"""JSON (and CSV) of the numbers that matter, token-auth, supervisor role."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from console.api import require_role
from console.metrics import InvalidPeriod, local_days, numbers_by_queue, numbers_csv
from console.models import Role
from console.queries import metric_facts
from terugbel.runtime import Runtime

blp = Blueprint("api_metrics", __name__, url_prefix="/api", description="The numbers that matter")


class PeriodArgsSchema(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "First local day (default: today)"})
    to = fields.Date(metadata={"description": "Last local day, inclusive, not before `from` (default: the first day)"})


class QueueNumbersSchema(Schema):
    queue = fields.String(metadata={"description": 'Queue name; "" for contacts without a queue, "*" for the total'})
    calls = fields.Integer()
    fcr_base = fields.Integer()
    fcr_resolved = fields.Integer()
    fcr_rate = fields.Float(allow_none=True)
    repeat_base = fields.Integer()
    repeat_contacts = fields.Integer()
    repeat_rate = fields.Float(allow_none=True)
    promises_due = fields.Integer()
    promises_kept = fields.Integer()
    kept_rate = fields.Float(allow_none=True)
    promises_connected = fields.Integer()
    connected_rate = fields.Float(allow_none=True)
    late_callbacks = fields.Integer()
    average_lateness_seconds = fields.Float(allow_none=True)
    resolved_by_other_contact = fields.Integer(
        metadata={"description": "Callbacks closed because the caller reached an agent another way"}
    )
    moved_by_us = fields.Integer()
    average_seconds_to_routed = fields.Float(allow_none=True)
    average_questions = fields.Float(allow_none=True)
    informed_by_incident = fields.Integer()
    abandoned_in_menu = fields.Integer()
    abandoned_in_queue = fields.Integer()


class NumbersSchema(Schema):
    period_start = fields.AwareDateTime()
    period_end = fields.AwareDateTime()
    queues = fields.List(fields.Nested(QueueNumbersSchema))


def _numbers(args: dict[str, Any]) -> tuple[Any, Any, Any]:
    runtime: Runtime = current_app.extensions["terugbel"]
    today = runtime.clock.now().astimezone(runtime.settings.zone).date()
    first: date = args.get("from_") or today
    last: date = args.get("to") or first
    try:
        days = local_days(first, last, runtime.settings.timezone)
    except InvalidPeriod as exc:
        abort(422, errors={"query": {exc.field: [exc.message]}}, message=f"{exc.field}: {exc.message}")
    start, end = days[0][0], days[-1][1]
    window = timedelta(days=runtime.settings.repeat_window_days)
    with runtime.db.session() as session:
        contacts, promises, queues = metric_facts(session, start, end, window)
    return numbers_by_queue(contacts, promises, queues, start, end, runtime.clock.now(), window), start, end


@blp.route("/metrics")
@blp.arguments(PeriodArgsSchema, location="query")
@blp.response(200, NumbersSchema)
@blp.alt_response(422, description="The period is not valid (the error names the field)")
@require_role(Role.SUPERVISOR)
def numbers(args: dict[str, Any]) -> dict[str, Any]:
    """The numbers that matter per queue over local days `from`..`to` (see console/metrics.py)."""
    rows, start, end = _numbers(args)
    return {"period_start": start, "period_end": end, "queues": [asdict(row) for row in rows]}


@blp.route("/metrics.csv")
@blp.arguments(PeriodArgsSchema, location="query")
@blp.alt_response(200, description="CSV, one line per queue and the total")
@require_role(Role.SUPERVISOR)
def numbers_as_csv(args: dict[str, Any]) -> Response:
    """The same numbers as CSV."""
    rows, start, end = _numbers(args)
    return Response(numbers_csv(rows, start, end), mimetype="text/csv")
