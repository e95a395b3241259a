"""An agent's own API: /api/me/* answers for the agent a token was created for, and no one else."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from console.api import api_identity, require_role
from console.api_board import AgentDeskSchema
from console.models import Role
from console.queries import agent_desk
from routing.agents import AGENT_CHOSEN_STATES, choose_agent_state
from routing.contacts import MAX_NOTE_LENGTH, record_outcome
from routing.distribution import agent_became_available
from routing.models import AgentState
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import ChangeRefused, NotFound

blp = Blueprint("api_me", __name__, url_prefix="/api/me", description="An agent's own callbacks, outcomes and state")


class OutcomeSchema(Schema):
    resolved = fields.Boolean(required=True, metadata={"description": "true: resolved; false: follow-up needed"})
    note = fields.String(load_default="", validate=validate.Length(max=MAX_NOTE_LENGTH))


class OutcomeRecordedSchema(Schema):
    contact_id = fields.Integer(required=True)
    resolved = fields.Boolean(required=True)


def _my_agent_id() -> int:
    agent_id = api_identity().agent_id
    if agent_id is None:
        abort(403, message="this token does not act for an agent (terugbel token create --agent-id N)")
    return agent_id


@blp.route("/desk")
@blp.response(200, AgentDeskSchema)
@require_role(Role.AGENT)
def my_desk() -> dict[str, Any]:
    """My next callbacks with each caller's history, and the outcomes I still have to record."""
    runtime: Runtime = current_app.extensions["terugbel"]
    agent_id = _my_agent_id()
    with runtime.db.session() as session:
        desk = agent_desk(session, agent_id, runtime.clock.now())
    if desk is None:
        abort(403, message="the agent this token acts for no longer exists")
    return asdict(desk)


@blp.route("/contacts/<int:contact_id>/outcome", methods=["POST"])
@blp.arguments(OutcomeSchema)
@blp.response(200, OutcomeRecordedSchema)
@blp.alt_response(404, description="No contact of mine with this id")
@require_role(Role.AGENT)
def record_my_outcome(args: dict[str, Any], contact_id: int) -> dict[str, Any]:
    """Record whether a contact I handled was resolved or needs a follow-up."""
    runtime: Runtime = current_app.extensions["terugbel"]
    agent_id = _my_agent_id()
    try:
        with unit_of_work(runtime) as session:  # the outcome ends wrap-up: a waiting caller is offered after commit
            record_outcome(
                session,
                contact_id=contact_id,
                agent_id=agent_id,
                resolved=args["resolved"],
                note=args["note"],
                now=runtime.clock.now(),
            )
    except NotFound:
        abort(404, message=f"no contact {contact_id} of yours")
    return {"contact_id": contact_id, "resolved": args["resolved"]}


class MyStateSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(AGENT_CHOSEN_STATES))


class MyStateChangedSchema(Schema):
    state = fields.String(required=True)
    offered_queue_entry_id = fields.Integer(
        allow_none=True, metadata={"description": "The waiting caller now being connected to me, if any"}
    )


@blp.route("/state", methods=["PUT"])
@blp.arguments(MyStateSchema)
@blp.response(200, MyStateChangedSchema)
@blp.alt_response(409, description="I am on a call; my state changes after it")
@require_role(Role.AGENT)
def set_my_state(args: dict[str, Any]) -> dict[str, Any]:
    """Set me available (after wrap-up, say) or away, as the agent console does in one click."""
    runtime: Runtime = current_app.extensions["terugbel"]
    agent_id = _my_agent_id()
    try:
        with runtime.db.session() as session:
            choose_agent_state(session, agent_id=agent_id, state=args["state"], now=runtime.clock.now())
    except NotFound:
        abort(403, message="the agent this token acts for no longer exists")
    except ChangeRefused as refused:
        abort(409, message=refused.message)
    offered = agent_became_available(runtime, agent_id) if args["state"] == AgentState.AVAILABLE.value else None
    return {"state": args["state"], "offered_queue_entry_id": offered.queue_entry_id if offered else None}
