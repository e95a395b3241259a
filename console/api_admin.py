"""JSON API for setting up a contact center: queues, agents and shifts (supervisors).

Thin: parse → one domain change (routing.queue_admin, routing.agent_admin, callbacks.staffing) →
re-plan the callback capacity it alters (callbacks.replanning), in one unit of work → render.
Validation errors name the field: 422 with {"errors": {"json": {field: [message]}}}; unknown ids 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NoReturn
from zoneinfo import available_timezones

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from callbacks.staffing import add_shift, delete_shift
from console.admin_changes import add_agent, add_queue, change_agent, change_queue
from console.api import DatabaseId, api_identity, require_role
from console.api_queues import AgentSchema, OpeningSchema, QueueStatusSchema, agent_dict, queue_dicts
from console.models import Role
from routing.agent_admin import LANGUAGES, NAME_LENGTH
from routing.live_state import agents_on_shift
from routing.models import Agent, Shift
from routing.queue_admin import NAME
from routing.queue_settings import HANDLE_SECONDS, HOLIDAY_COUNTRIES, LEAD_MINUTES, SLOT_MINUTES
from terugbel.clock import ensure_utc
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import FieldErrors, NotFound

blp = Blueprint("api_admin", __name__, url_prefix="/api", description="Setting up queues, agents and shifts")

# What routing.queue_admin and routing.agent_admin accept, said in the OpenAPI document; they stay the check.
QUEUE_NAME = validate.Regexp(NAME.pattern, error="1–60 lower-case letters, digits, '-' or '_'")
LABEL = [validate.Length(min=1, max=120), validate.Regexp(r"\S")]
# ISO 8601 with an offset, or a local time in the center's zone.
MOMENT = validate.Regexp(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$",
    error="a date and time like 2026-11-23T08:00 or 2026-11-23T08:00+01:00",
)
DEFAULT_SHIFT_WINDOW = timedelta(days=31)


class QueueInputSchema(Schema):
    name = fields.String(required=True, validate=QUEUE_NAME, metadata={"description": "Unique, e.g. 'technisch'"})
    label = fields.String(required=True, validate=LABEL)
    skill = fields.String(validate=QUEUE_NAME, metadata={"description": "Default: the name"})
    timezone = fields.String(
        validate=validate.OneOf(sorted(available_timezones())), metadata={"description": "Default TERUGBEL_TIMEZONE"}
    )
    holiday_country = fields.String(allow_none=True, validate=validate.OneOf(HOLIDAY_COUNTRIES))
    callback_share_percent = fields.Float(
        validate=validate.Range(min=0, max=100, min_inclusive=False), metadata={"description": "Default 30"}
    )
    slot_minutes = fields.Integer(validate=validate.OneOf(SLOT_MINUTES), metadata={"description": "Default 15"})
    default_handle_seconds = fields.Integer(validate=validate.Range(*HANDLE_SECONDS))
    wait_threshold_seconds = fields.Integer(validate=validate.Range(0, 3600))
    callback_lead_minutes = fields.Integer(validate=validate.Range(*LEAD_MINUTES))
    overflow_queue_id = DatabaseId(allow_none=True)
    hours = fields.List(
        fields.Nested(OpeningSchema),
        validate=validate.Length(max=7),
        metadata={"description": "Each weekday at most once, closes after opens; replaces all hours"},
    )


class QueueChangeSchema(QueueInputSchema):
    """Any subset of a new queue's fields (used partial: none is required)."""


class AgentInputSchema(Schema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=NAME_LENGTH), validate.Regexp(r"\S")])
    phone = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "Any format; without +country read as the center's country (NL)"},
    )
    skills = fields.List(
        fields.String(validate=QUEUE_NAME),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Skills of existing queues"},
    )
    language = fields.String(validate=validate.OneOf(LANGUAGES), metadata={"description": "Default nl"})
    active = fields.Boolean(metadata={"description": "false lets the agent go: set away, no longer routed to"})


class AgentChangeInputSchema(AgentInputSchema):
    """Any subset of a new agent's fields (used partial: none is required)."""


class ShiftSchema(Schema):
    id = fields.Integer()
    agent_id = fields.Integer()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()


class ShiftInputSchema(Schema):
    agent_id = DatabaseId(required=True)
    starts_at = fields.String(required=True, validate=MOMENT)
    ends_at = fields.String(required=True, validate=MOMENT, metadata={"description": "After the start, ≤ 16 h"})


class ShiftQuerySchema(Schema):
    agent_id = DatabaseId(load_default=None)
    from_ = fields.AwareDateTime(data_key="from", load_default=None, metadata={"description": "Default: now"})
    to = fields.AwareDateTime(load_default=None, metadata={"description": "Default: 31 days after from"})


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def _refused(exc: FieldErrors, renamed: dict[str, str] | None = None) -> NoReturn:
    names = renamed or {}
    abort(422, message="invalid input", errors={"json": {names.get(k, k): [v] for k, v in exc.errors.items()}})


# --- queues ------------------------------------------------------------------------------------


def _queue_answer(runtime: Runtime, queue_id: int) -> dict[str, Any]:
    with runtime.db.session() as session:
        [queue] = queue_dicts(session, runtime.clock.now(), {queue_id})
        return queue


@blp.route("/queues/<int:queue_id>", methods=["GET"])
@blp.response(200, QueueStatusSchema)
@blp.alt_response(404, description="No such queue")
@require_role(Role.SUPERVISOR)
def get_queue(queue_id: int) -> dict[str, Any]:
    """One queue now, with its settings and opening hours."""
    runtime = _runtime()
    with runtime.db.session() as session:
        found = queue_dicts(session, runtime.clock.now(), {queue_id})
    if not found:
        abort(404, message=f"no queue {queue_id}")
    return found[0]


@blp.route("/queues", methods=["POST"])
@blp.arguments(QueueInputSchema)
@blp.response(201, QueueStatusSchema)
@require_role(Role.SUPERVISOR)
def post_queue(args: dict[str, Any]) -> dict[str, Any]:
    """Add a queue; its callback slots are planned from its settings at once."""
    runtime = _runtime()
    try:
        queue_id = add_queue(runtime, args, api_identity().name)
    except FieldErrors as exc:
        _refused(exc)
    return _queue_answer(runtime, queue_id)


@blp.route("/queues/<int:queue_id>", methods=["PATCH"])
@blp.arguments(QueueChangeSchema(partial=True))
@blp.response(200, QueueStatusSchema)
@blp.alt_response(404, description="No such queue")
@require_role(Role.SUPERVISOR)
def patch_queue(args: dict[str, Any], queue_id: int) -> dict[str, Any]:
    """Change some of a queue's fields; `hours` replaces all; a capacity change re-plans its callbacks."""
    runtime = _runtime()
    try:
        change_queue(runtime, queue_id, args, api_identity().name)
    except NotFound:
        abort(404, message=f"no queue {queue_id}")
    except FieldErrors as exc:
        _refused(exc)
    return _queue_answer(runtime, queue_id)


# --- agents ------------------------------------------------------------------------------------


def _agent_answer(runtime: Runtime, agent_id: int) -> dict[str, Any]:
    with runtime.db.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            abort(404, message=f"no agent {agent_id}")
        return agent_dict(agent, agents_on_shift(session, runtime.clock.now()))


@blp.route("/agents/<int:agent_id>", methods=["GET"])
@blp.response(200, AgentSchema)
@blp.alt_response(404, description="No such agent")
@require_role(Role.SUPERVISOR)
def get_agent(agent_id: int) -> dict[str, Any]:
    """One agent, active or not."""
    return _agent_answer(_runtime(), agent_id)


@blp.route("/agents", methods=["POST"])
@blp.arguments(AgentInputSchema)
@blp.response(201, AgentSchema)
@require_role(Role.SUPERVISOR)
def post_agent(args: dict[str, Any]) -> dict[str, Any]:
    """Add an agent (away until they choose available); a duplicate of an active agent's phone is refused."""
    runtime = _runtime()
    try:
        agent_id = add_agent(runtime, args, api_identity().name)
    except FieldErrors as exc:
        _refused(exc)
    return _agent_answer(runtime, agent_id)


@blp.route("/agents/<int:agent_id>", methods=["PATCH"])
@blp.arguments(AgentChangeInputSchema(partial=True))
@blp.response(200, AgentSchema)
@blp.alt_response(404, description="No such agent")
@require_role(Role.SUPERVISOR)
def patch_agent(args: dict[str, Any], agent_id: int) -> dict[str, Any]:
    """Change some of an agent's fields; `active: false` lets them go and re-plans the queues they served."""
    runtime = _runtime()
    try:
        change_agent(runtime, agent_id, args, api_identity().name)
    except NotFound:
        abort(404, message=f"no agent {agent_id}")
    except FieldErrors as exc:
        _refused(exc)
    return _agent_answer(runtime, agent_id)


# --- shifts ------------------------------------------------------------------------------------


def _shift_dict(shift: Shift) -> dict[str, Any]:
    return {
        "id": shift.id,
        "agent_id": shift.agent_id,
        "starts_at": ensure_utc(shift.starts_at),
        "ends_at": ensure_utc(shift.ends_at),
    }


@blp.route("/shifts", methods=["GET"])
@blp.arguments(ShiftQuerySchema, location="query")
@blp.response(200, ShiftSchema(many=True))
@require_role(Role.SUPERVISOR)
def get_shifts(args: dict[str, Any]) -> list[dict[str, Any]]:
    """The shifts that overlap [from, to) (default: from now, 31 days), of one agent or all, by start."""
    runtime = _runtime()
    start = args["from_"] or runtime.clock.now()
    end = args["to"] or start + DEFAULT_SHIFT_WINDOW
    query = select(Shift).where(Shift.ends_at > start, Shift.starts_at < end).order_by(Shift.starts_at, Shift.id)
    if args["agent_id"] is not None:
        query = query.where(Shift.agent_id == args["agent_id"])
    with runtime.db.session() as session:
        return [_shift_dict(shift) for shift in session.scalars(query)]


@blp.route("/shifts", methods=["POST"])
@blp.arguments(ShiftInputSchema)
@blp.response(201, ShiftSchema)
@require_role(Role.SUPERVISOR)
def post_shift(args: dict[str, Any]) -> dict[str, Any]:
    """Add a shift (local times in the center's zone unless an offset is given); capacity follows it."""
    runtime = _runtime()
    try:
        with unit_of_work(runtime) as session:
            shift = add_shift(
                session,
                agent_id=str(args["agent_id"]),
                starts=args["starts_at"],
                ends=args["ends_at"],
                zone=runtime.settings.timezone,
                actor=api_identity().name,
                now=runtime.clock.now(),
            )
            answer = _shift_dict(shift)
    except FieldErrors as exc:
        _refused(exc, {"agent": "agent_id", "starts": "starts_at", "ends": "ends_at"})
    return answer


@blp.route("/shifts/<int:shift_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(404, description="No such shift")
@require_role(Role.SUPERVISOR)
def remove_shift(shift_id: int) -> None:
    """Remove a shift; promises that no longer fit move, and their callers are texted."""
    runtime = _runtime()
    try:
        with unit_of_work(runtime) as session:
            delete_shift(session, shift_id=shift_id, actor=api_identity().name, now=runtime.clock.now())
    except NotFound:
        abort(404, message=f"no shift {shift_id}")
