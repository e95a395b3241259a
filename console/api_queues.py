"""JSON API for queues, agents and their states, and a caller's history.

Thin: parse → one routing call → render. An agent set to available is offered the best waiting
caller at once (routing.distribution), and the answer says who, if anyone.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.api import api_identity, require_role
from console.models import Role
from routing.agents import UnknownAgent, change_agent_state
from routing.distribution import agent_became_available
from routing.history import caller_history, find_caller, history_facts
from routing.live_state import agents_on_shift, queue_statuses
from routing.models import Agent, AgentState, Queue
from routing.queue_admin import opening_hours, queue_setting_values
from terugbel.phone import try_e164
from terugbel.runtime import Runtime

blp = Blueprint("api_queues", __name__, url_prefix="/api", description="Queues, agents and caller history")

SETTABLE_STATES = [s.value for s in AgentState if s != AgentState.RESERVED]


CLOCK_TIME = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="a time like 08:30")


class OpeningSchema(Schema):
    weekday = fields.Integer(
        required=True, validate=validate.Range(min=0, max=6), metadata={"description": "0 = Monday"}
    )
    opens = fields.String(required=True, validate=CLOCK_TIME, metadata={"example": "08:30"})
    closes = fields.String(required=True, validate=CLOCK_TIME, metadata={"description": "After opens"})


class QueueStatusSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    label = fields.String()
    skill = fields.String()
    timezone = fields.String()
    open = fields.Boolean()
    waiting = fields.Integer(metadata={"description": "Callers waiting now"})
    available_agents = fields.Integer()
    serving_agents = fields.Integer(metadata={"description": "On shift with the skill, not away"})
    average_handle_seconds = fields.Float()
    wait_estimate_seconds = fields.Integer()
    wait_threshold_seconds = fields.Integer()
    overflow_queue = fields.String(allow_none=True)
    overflow_queue_id = fields.Integer(allow_none=True)
    holiday_country = fields.String(allow_none=True)
    callback_share_percent = fields.Float()
    slot_minutes = fields.Integer()
    default_handle_seconds = fields.Integer()
    callback_lead_minutes = fields.Integer()
    hours = fields.List(fields.Nested(OpeningSchema), metadata={"description": "A weekday absent is closed"})


class AgentSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String(allow_none=True, metadata={"description": "E.164; null for agent tokens"})
    language = fields.String()
    skills = fields.List(fields.String())
    state = fields.String()
    state_changed_at = fields.AwareDateTime(allow_none=True)
    on_shift = fields.Boolean()
    active = fields.Boolean()


class AgentListArgsSchema(Schema):
    include_inactive = fields.Boolean(load_default=False, metadata={"description": "Also agents let go"})


class AgentStateSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(SETTABLE_STATES))


class ReservationSchema(Schema):
    queue_entry_id = fields.Integer()
    queue_name = fields.String()
    priority = fields.Integer()
    enqueued_at = fields.AwareDateTime()
    preferred = fields.Boolean()


class AgentChangeSchema(AgentSchema):
    reservation = fields.Nested(
        ReservationSchema, allow_none=True, metadata={"description": "The caller now being connected"}
    )


class HistoryArgsSchema(Schema):
    days = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=365),
        metadata={"description": "How many days back; default the repeat window (TERUGBEL_REPEAT_WINDOW_DAYS, 7)"},
    )


class HistoryEntrySchema(Schema):
    kind = fields.String()
    started_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    promise_id = fields.Integer(allow_none=True)
    intent = fields.String(allow_none=True)
    intent_label = fields.String(allow_none=True)
    agent_id = fields.Integer(allow_none=True)
    agent_name = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    outcome = fields.String()
    resolved = fields.Boolean(allow_none=True)
    routing_explanation = fields.String(allow_none=True)
    transcript = fields.String(allow_none=True)


class CallerHistorySchema(Schema):
    caller_id = fields.Integer()
    number = fields.String()
    name = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    vip = fields.Boolean()
    window_days = fields.Integer()
    unresolved = fields.Boolean(metadata={"description": "A contact in the window was left unresolved"})
    contacts = fields.List(fields.Nested(HistoryEntrySchema))


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def queue_dicts(session: Session, now: datetime, queue_ids: Collection[int] | None = None) -> list[dict[str, Any]]:
    """The queues (all, or those in `queue_ids`) now, with their settings and opening hours."""
    rows = {q.id: q for q in session.scalars(select(Queue))}
    return [
        {**asdict(status), **queue_setting_values(rows[status.id]), "hours": opening_hours(session, status.id)}
        for status in queue_statuses(session, now)
        if queue_ids is None or status.id in queue_ids
    ]


def agent_dict(agent: Agent, on_shift: set[int], *, with_phone: bool = True) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "phone": agent.phone if with_phone else None,
        "language": agent.language,
        "skills": list(agent.skills or []),
        "state": agent.state,
        "state_changed_at": agent.state_changed_at,
        "on_shift": agent.id in on_shift,
        "active": agent.active,
    }


@blp.route("/queues")
@blp.response(200, QueueStatusSchema(many=True))
@require_role(Role.AGENT)
def get_queues() -> list[Any]:
    """Every queue now: open or closed, callers waiting, agents, handle time and wait estimate."""
    runtime = _runtime()
    with runtime.db.session() as session:
        return queue_dicts(session, runtime.clock.now())


@blp.route("/agents")
@blp.arguments(AgentListArgsSchema, location="query")
@blp.response(200, AgentSchema(many=True))
@require_role(Role.AGENT)
def get_agents(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Every active agent (or every agent) with skills, language, live state and whether on shift now.

    The phone numbers only for supervisors: an agent's token sees `phone` null.
    """
    runtime = _runtime()
    with_phone = api_identity().role.includes(Role.SUPERVISOR)
    with runtime.db.session() as session:
        on_shift = agents_on_shift(session, runtime.clock.now())
        query = select(Agent).order_by(Agent.name, Agent.id)
        if not args["include_inactive"]:
            query = query.where(Agent.active.is_(True))
        return [agent_dict(agent, on_shift, with_phone=with_phone) for agent in session.scalars(query)]


@blp.route("/agents/<int:agent_id>/state", methods=["PUT", "POST"])
@blp.arguments(AgentStateSchema)
@blp.response(200, AgentChangeSchema)
@blp.alt_response(404, description="No such agent")
@require_role(Role.SUPERVISOR)
def set_agent_state(args: dict[str, Any], agent_id: int) -> dict[str, Any]:
    """Change an agent's state; an agent made available is offered the best waiting caller."""
    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            change_agent_state(session, agent_id, args["state"], runtime.clock.now())
    except UnknownAgent as exc:
        abort(404, message=str(exc))
    reservation = None
    if args["state"] == AgentState.AVAILABLE.value:
        reservation = agent_became_available(runtime, agent_id)
    with runtime.db.session() as session:
        agent = session.get(Agent, agent_id)
        on_shift = agents_on_shift(session, runtime.clock.now())
        return {**agent_dict(agent, on_shift), "reservation": reservation}  # type: ignore[arg-type]


@blp.route("/callers/<string:number>/history")
@blp.arguments(HistoryArgsSchema, location="query")
@blp.response(200, CallerHistorySchema)
@blp.alt_response(404, description="No caller with this number")
@blp.alt_response(422, description="Not a phone number")
@require_role(Role.SUPERVISOR)
def get_caller_history(args: dict[str, Any], number: str) -> dict[str, Any]:
    """A caller's contacts of the last days (default: the repeat window), newest first, callbacks included.

    Supervisors only: API tokens are not tied to an agent, so an agent token could not be limited
    to that agent's own callers (the console shows agents the history of their own callbacks).
    """
    runtime = _runtime()
    days: int = args["days"] or runtime.settings.repeat_window_days
    e164 = try_e164(number, runtime.settings.default_region)
    if e164 is None:
        abort(422, message="not a phone number", errors={"path": {"number": ["not a phone number"]}})
    with runtime.db.session() as session:
        caller = find_caller(session, e164)
        if caller is None:
            abort(404, message="no caller with this number")
        entries = caller_history(session, caller.id, runtime.clock.now(), days)
    facts = history_facts(entries, None, days)
    return {
        "caller_id": caller.id,
        "number": caller.number,
        "name": caller.name,
        "language": caller.language,
        "vip": caller.vip,
        "window_days": days,
        "unresolved": facts.has_unresolved,
        "contacts": entries,
    }
