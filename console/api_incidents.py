"""JSON API for incidents: said to matching callers before any question; resolving texts subscribers.

Create with a message per language, a match rule (all callers, number prefixes, products) and the
expected fix time; list; resolve — every caller who pressed 1 gets one text, once.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from console.api import api_identity, require_role
from console.models import Role
from routing import incidents as service
from routing.models import Incident, IncidentState, IncidentSubscription
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work

blp = Blueprint("api_incidents", __name__, url_prefix="/api", description="Incidents said before any question")

PREFIX = re.compile(r"^\+\d{1,14}$")


class IncidentSchema(Schema):
    id = fields.Integer(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    message_nl = fields.String(required=True, validate=validate.Length(min=1, max=600))
    message_en = fields.String(required=True, validate=validate.Length(min=1, max=600))
    match_all = fields.Boolean(
        load_default=False,
        metadata={"description": "Every caller; otherwise give match_prefixes or match_products"},
    )
    match_prefixes = fields.List(
        fields.String(), load_default=list, metadata={"description": "E.164 prefixes, e.g. +3130"}
    )
    match_products = fields.List(fields.String(validate=validate.Length(min=1, max=60)), load_default=list)
    expected_fix_at = fields.AwareDateTime(allow_none=True, load_default=None)
    state = fields.String(dump_only=True)
    started_at = fields.AwareDateTime(dump_only=True)
    resolved_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    created_by = fields.String(dump_only=True)
    subscribers = fields.Integer(dump_only=True)
    notified = fields.Integer(dump_only=True)

    @validates("match_prefixes")
    def _prefixes(self, value: list[str], **_: Any) -> None:
        bad = [p for p in value if not PREFIX.match(p)]
        if bad:
            raise ValidationError(f"prefixes start with + and the country code, digits only: {', '.join(bad)}")

    @validates_schema
    def _someone(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("match_all") and not data.get("match_prefixes") and not data.get("match_products"):
            raise ValidationError("say whom it matches: match_all, match_prefixes or match_products", "match_all")


class IncidentListArgs(Schema):
    state = fields.String(validate=validate.OneOf([s.value for s in IncidentState]))


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def _view(session: Any, incident: Incident) -> dict[str, Any]:
    subscriptions = list(session.query(IncidentSubscription).filter(IncidentSubscription.incident_id == incident.id))
    return {
        "id": incident.id,
        "title": incident.title,
        "message_nl": incident.message_nl,
        "message_en": incident.message_en,
        "match_all": incident.match_all,
        "match_prefixes": list(incident.match_prefixes or []),
        "match_products": list(incident.match_products or []),
        "expected_fix_at": incident.expected_fix_at,
        "state": incident.state,
        "started_at": incident.started_at,
        "resolved_at": incident.resolved_at,
        "created_by": incident.created_by,
        "subscribers": len(subscriptions),
        "notified": sum(1 for s in subscriptions if s.notified_at is not None),
    }


@blp.route("/incidents", methods=["GET"])
@blp.arguments(IncidentListArgs, location="query")
@blp.response(200, IncidentSchema(many=True))
@require_role(Role.SUPERVISOR)
def list_incidents(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Incidents, newest first; `?state=active` for the ones callers hear now."""
    with _runtime().db.session() as session:
        return [_view(session, i) for i in service.list_incidents(session, args.get("state"))]


@blp.route("/incidents", methods=["POST"])
@blp.arguments(IncidentSchema)
@blp.response(201, IncidentSchema)
@require_role(Role.SUPERVISOR)
def create_incident(data: dict[str, Any]) -> dict[str, Any]:
    """Start an incident: matching callers hear it, with the fix time, before any question."""
    runtime = _runtime()
    with runtime.db.session() as session:
        incident = service.create_incident(session, actor=api_identity().name, now=runtime.clock.now(), **data)
        return _view(session, incident)


@blp.route("/incidents/<int:incident_id>/resolve", methods=["POST"])
@blp.response(200, IncidentSchema)
@require_role(Role.SUPERVISOR)
def resolve_incident(incident_id: int) -> dict[str, Any]:
    """Resolve it: every caller who asked gets one text that it is fixed."""
    runtime = _runtime()
    try:
        with unit_of_work(runtime) as session:
            incident = service.resolve_incident(
                session, incident_id, actor=api_identity().name, now=runtime.clock.now()
            )
            view = _view(session, incident)
    except service.IncidentNotFound:
        abort(404, message=f"no incident {incident_id}")
    return view
