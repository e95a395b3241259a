"""JSON API for intents: what callers can call about, edited by supervisors.

Validation errors name the field: 422 with {"errors": {"json": {"queue": ["no queue named ..."]}}}.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from console.api import api_identity, require_role
from console.models import Role
from routing import intents as service
from terugbel.runtime import Runtime

blp = Blueprint("api_intents", __name__, url_prefix="/api", description="Intents of the voice menu")


# What routing.intents accepts, said in the OpenAPI document; that module stays the one check.
LABEL_LENGTH = validate.Length(min=1, max=120)
NOT_BLANK = validate.Regexp(r"\S")


def _phrases(language: str) -> fields.List[str]:
    phrase = fields.String(validate=[validate.Length(min=1, max=service.MAX_PHRASE_LENGTH), NOT_BLANK])
    return fields.List(
        phrase, validate=validate.Length(max=service.MAX_PHRASES), metadata={"description": f"In {language}"}
    )


class IntentSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(
        validate=validate.Regexp(service.NAME), metadata={"description": "Lower-case id, e.g. 'internet'"}
    )
    label_nl = fields.String(validate=[LABEL_LENGTH, NOT_BLANK])
    label_en = fields.String(validate=[LABEL_LENGTH, NOT_BLANK])
    queue = fields.String(metadata={"description": "Name of the queue the intent goes to"})
    key = fields.String(
        allow_none=True,
        validate=validate.OneOf(["", *service.KEYS]),
        metadata={"description": "Digit 1–8 in the key menu; null or empty for none"},
    )
    phrases_nl = _phrases("Dutch")
    phrases_en = _phrases("English")
    active = fields.Boolean()


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(422, errors={"json": {"_schema": ["send a JSON object"]}})
    return data


@blp.route("/intents", methods=["GET"])
@blp.response(200, IntentSchema(many=True))
@require_role(Role.SUPERVISOR)
def list_intents() -> list[dict[str, Any]]:
    """List every intent, keyed ones first."""
    with _runtime().db.session() as session:
        return [service.intent_view(session, i) for i in service.list_intents(session)]


@blp.route("/intents", methods=["POST"])
@blp.doc(requestBody={"content": {"application/json": {"schema": IntentSchema}}})
@blp.response(201, IntentSchema)
@require_role(Role.SUPERVISOR)
def create_intent() -> dict[str, Any]:
    """Add an intent; errors name the field."""
    runtime = _runtime()
    data = _body()
    try:
        with runtime.db.session() as session:
            intent = service.create_intent(session, data, actor=api_identity().name, now=runtime.clock.now())
            return service.intent_view(session, intent)
    except service.IntentInvalid as exc:
        abort(422, errors={"json": exc.errors})


@blp.route("/intents/<int:intent_id>", methods=["GET"])
@blp.response(200, IntentSchema)
@require_role(Role.SUPERVISOR)
def get_intent(intent_id: int) -> dict[str, Any]:
    """One intent."""
    try:
        with _runtime().db.session() as session:
            return service.intent_view(session, service.get_intent(session, intent_id))
    except service.IntentNotFound:
        abort(404, message=f"no intent {intent_id}")


@blp.route("/intents/<int:intent_id>", methods=["PATCH"])
@blp.doc(requestBody={"content": {"application/json": {"schema": IntentSchema}}})
@blp.response(200, IntentSchema)
@require_role(Role.SUPERVISOR)
def update_intent(intent_id: int) -> dict[str, Any]:
    """Change some fields of an intent; errors name the field."""
    runtime = _runtime()
    data = _body()
    try:
        with runtime.db.session() as session:
            intent = service.update_intent(session, intent_id, data, actor=api_identity().name, now=runtime.clock.now())
            return service.intent_view(session, intent)
    except service.IntentNotFound:
        abort(404, message=f"no intent {intent_id}")
    except service.IntentInvalid as exc:
        abort(422, errors={"json": exc.errors})


@blp.route("/intents/<int:intent_id>", methods=["DELETE"])
@blp.response(204)
@require_role(Role.SUPERVISOR)
def delete_intent(intent_id: int) -> None:
    """Remove an intent."""
    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            service.delete_intent(session, intent_id, actor=api_identity().name, now=runtime.clock.now())
    except service.IntentNotFound:
        abort(404, message=f"no intent {intent_id}")
