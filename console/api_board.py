"""JSON for the supervisor board (the same facts as /console/board), token-auth, supervisor role."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from console.api import require_role
from console.models import Role
from console.queries import agent_desk, supervisor_board
from terugbel.runtime import Runtime

blp = Blueprint("api_board", __name__, url_prefix="/api", description="The live supervisor board")


class BoardQueueSchema(Schema):
    queue_id = fields.Integer()
    name = fields.String()
    label = fields.String()
    open = fields.Boolean()
    waiting = fields.Integer(metadata={"description": "Callers waiting now"})
    longest_wait_seconds = fields.Integer()
    wait_estimate_seconds = fields.Integer()
    available_agents = fields.Integer()
    serving_agents = fields.Integer()


class BoardAgentSchema(Schema):
    agent_id = fields.Integer()
    name = fields.String()
    state = fields.String()
    since = fields.AwareDateTime(allow_none=True)
    on_shift = fields.Boolean()
    skills = fields.List(fields.String())


class BoardPromiseSchema(Schema):
    promise_id = fields.Integer()
    queue = fields.String()
    caller_name = fields.String(allow_none=True)
    number = fields.String()
    state = fields.String()
    window_start = fields.AwareDateTime()
    window_end = fields.AwareDateTime()
    planned_dial_at = fields.AwareDateTime()
    timezone = fields.String()
    reason = fields.String(allow_none=True)
    moved_by_us = fields.Boolean()
    at_risk = fields.Boolean()


class BoardIncidentSchema(Schema):
    incident_id = fields.Integer()
    title = fields.String()
    started_at = fields.AwareDateTime()
    expected_fix_at = fields.AwareDateTime(allow_none=True)
    match_all = fields.Boolean()
    match_prefixes = fields.List(fields.String())
    match_products = fields.List(fields.String())


class BoardWaitingSchema(Schema):
    queue = fields.String()
    caller_name = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    priority = fields.Integer()
    state = fields.String()
    enqueued_at = fields.AwareDateTime()
    preferred_agent = fields.String(allow_none=True)


class BoardSchema(Schema):
    now = fields.AwareDateTime()
    in_menu = fields.Integer(metadata={"description": "Callers in the voice menu now"})
    queues = fields.List(fields.Nested(BoardQueueSchema))
    waiting = fields.List(fields.Nested(BoardWaitingSchema), metadata={"description": "In serving order"})
    agents = fields.List(fields.Nested(BoardAgentSchema))
    due_next_hour = fields.List(fields.Nested(BoardPromiseSchema))
    at_risk = fields.List(fields.Nested(BoardPromiseSchema))
    moved_by_us = fields.List(fields.Nested(BoardPromiseSchema))
    resolved_otherwise = fields.List(
        fields.Nested(BoardPromiseSchema),
        metadata={"description": "Callbacks closed because the caller reached an agent another way (last 12 hours)"},
    )
    incidents = fields.List(fields.Nested(BoardIncidentSchema))


@blp.route("/board")
@blp.response(200, BoardSchema)
@require_role(Role.SUPERVISOR)
def board() -> dict[str, Any]:
    """The live board: callers in the menu and queues, agents, callbacks due, promises at risk or moved."""
    runtime: Runtime = current_app.extensions["terugbel"]
    with runtime.db.session() as session:
        return asdict(supervisor_board(session, runtime.clock.now()))


class TimelineEntrySchema(Schema):
    contact_id = fields.Integer(allow_none=True)
    started_at = fields.AwareDateTime()
    channel = fields.String()
    intent = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    agent = fields.String(allow_none=True)
    outcome = fields.String()
    resolved = fields.Boolean(allow_none=True)
    note = fields.String(allow_none=True)
    words = fields.String(allow_none=True, metadata={"description": "The caller's own words"})


class AgentCallbackSchema(Schema):
    promise_id = fields.Integer()
    state = fields.String()
    window_start = fields.AwareDateTime()
    window_end = fields.AwareDateTime()
    timezone = fields.String()
    language = fields.String()
    caller_name = fields.String(allow_none=True)
    number = fields.String()
    problem = fields.String(allow_none=True)
    intent = fields.String(allow_none=True)
    queue = fields.String()
    contacts_this_week = fields.Integer()
    timeline = fields.List(fields.Nested(TimelineEntrySchema))


class PendingOutcomeSchema(Schema):
    contact_id = fields.Integer()
    started_at = fields.AwareDateTime()
    caller_name = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    intent = fields.String(allow_none=True)
    words = fields.String(allow_none=True)


class AgentDeskSchema(Schema):
    agent_id = fields.Integer()
    agent_name = fields.String()
    state = fields.String()
    callbacks = fields.List(fields.Nested(AgentCallbackSchema))
    pending_outcomes = fields.List(fields.Nested(PendingOutcomeSchema))


@blp.route("/agents/<int:agent_id>/desk")
@blp.response(200, AgentDeskSchema)
@blp.alt_response(404, description="No agent with this id")
@require_role(Role.SUPERVISOR)
def agent_desk_json(agent_id: int) -> dict[str, Any]:
    """What the agent sees: their next callbacks with each caller's history, and outcomes to record."""
    runtime: Runtime = current_app.extensions["terugbel"]
    with runtime.db.session() as session:
        desk = agent_desk(session, agent_id, runtime.clock.now())
    if desk is None:
        abort(404, message=f"no agent {agent_id}")
    return asdict(desk)
