"""JSON API for callers: finding them, correcting name, language and VIP, and erasure on request.

Thin: parse -> one call of routing.caller_admin (or privacy.erasure) -> render. The schemas say in
the OpenAPI document what routing.caller_admin accepts; that module stays the one check.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from console.api import api_identity, require_role
from console.models import Role
from privacy.erasure import erase_caller
from routing import caller_admin
from routing.caller_admin import CallerSummary
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import ChangeRefused, FieldErrors, NotFound

blp = Blueprint("api_callers", __name__, url_prefix="/api", description="Callers and their personal data")

# No control characters (PostgreSQL refuses NUL in text; no name holds the others).
_PRINTABLE = r"[^\u0000-\u001f\u007f]"
NO_CONTROL = validate.Regexp(rf"^{_PRINTABLE}*$", error="no control characters")
NOT_BLANK_PRINTABLE = validate.Regexp(
    rf"^{_PRINTABLE}*[^\s\u0000-\u001f\u007f]{_PRINTABLE}*$",
    error="give a part of a name or a number, without control characters",
)


class StrictBoolean(fields.Boolean):
    """true or false, nothing else that marshmallow would read as one (1, "yes", "on")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class CallerSearchArgs(Schema):
    number = fields.String(
        validate=[validate.Length(min=1, max=40), NO_CONTROL],
        metadata={"description": "A phone number in any format (read in the center's country without +); 0 or 1 hits"},
    )
    q = fields.String(
        validate=[validate.Length(min=1, max=caller_admin.QUERY_MAX), NOT_BLANK_PRINTABLE],
        metadata={"description": 'A part of the name (any case) or of the number ("0612", "+3161")'},
    )

    @validates_schema
    def _one_of(self, data: dict[str, Any], **_: Any) -> None:
        if ("number" in data) == ("q" in data):
            raise ValidationError("give either number or q", field_name="q")


class LastContactSchema(Schema):
    contact_id = fields.Integer()
    started_at = fields.AwareDateTime()
    channel = fields.String()
    intent = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    agent_name = fields.String(allow_none=True)
    outcome = fields.String()
    resolved = fields.Boolean(allow_none=True)


class CallerSchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"description": "E.164"})
    name = fields.String(allow_none=True)
    language = fields.String(allow_none=True, metadata={"description": "nl, en, or null (from the number)"})
    vip = fields.Boolean()
    products = fields.List(fields.String())
    created_at = fields.AwareDateTime()
    contacts_count = fields.Integer()
    last_contacts = fields.List(
        fields.Nested(LastContactSchema),
        metadata={"description": f"The last {caller_admin.LAST_CONTACTS} contacts, newest first"},
    )


class CallerListSchema(Schema):
    callers = fields.List(fields.Nested(CallerSchema))


class CallerChangeSchema(Schema):
    name = fields.String(
        allow_none=True,
        validate=[validate.Length(max=caller_admin.NAME_MAX), NO_CONTROL],
        metadata={"description": "Blank or null: no name"},
    )
    language = fields.String(allow_none=True, validate=validate.OneOf(caller_admin.LANGUAGES))
    vip = StrictBoolean(metadata={"description": "A VIP caller gets priority in the queue"})


class ErasureSchema(Schema):
    caller_id = fields.Integer(metadata={"description": "the id the caller had; it no longer exists"})
    cancelled_callbacks = fields.Integer(metadata={"description": "open callbacks cancelled, each with a last text"})
    contacts = fields.Integer(metadata={"description": "contacts kept as anonymous rows"})
    calls = fields.Integer()
    callbacks = fields.Integer()
    texts = fields.Integer()


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def _refused(location: str, exc: FieldErrors) -> NoReturn:
    abort(422, message=str(exc), errors={location: {field: [message] for field, message in exc.errors.items()}})


@blp.route("/callers", methods=["GET"])
@blp.arguments(CallerSearchArgs, location="query")
@blp.response(200, CallerListSchema)
@require_role(Role.SUPERVISOR)
def find_callers(args: dict[str, Any]) -> dict[str, list[CallerSummary]]:
    """Find callers by number (0 or 1) or by a part of the name or number, with their last contacts."""
    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            if "number" in args:
                found = caller_admin.find_by_number(session, args["number"], runtime.settings.default_region)
            else:
                found = caller_admin.search_callers(session, args["q"])
    except FieldErrors as exc:
        _refused("query", exc)
    return {"callers": found}


@blp.route("/callers/<int:caller_id>", methods=["GET"])
@blp.response(200, CallerSchema)
@blp.alt_response(404, description="No such caller")
@require_role(Role.SUPERVISOR)
def get_caller(caller_id: int) -> CallerSummary:
    """One caller with their contact count and last contacts."""
    try:
        with _runtime().db.session() as session:
            return caller_admin.caller_summary(session, caller_id)
    except NotFound:
        abort(404, message=f"no caller {caller_id}")


@blp.route("/callers/<int:caller_id>", methods=["PATCH"])
@blp.arguments(CallerChangeSchema)
@blp.response(200, CallerSchema)
@blp.alt_response(404, description="No such caller")
@require_role(Role.SUPERVISOR)
def change_caller(changes: dict[str, Any], caller_id: int) -> CallerSummary:
    """Change the caller's name, language or VIP; audited by the fields changed, never the name."""
    runtime = _runtime()
    try:
        with unit_of_work(runtime) as session:
            return caller_admin.update_caller(
                session, caller_id, changes, actor=api_identity().name, now=runtime.clock.now()
            )
    except NotFound:
        abort(404, message=f"no caller {caller_id}")
    except FieldErrors as exc:
        _refused("json", exc)


@blp.route("/callers/<int:caller_id>", methods=["DELETE"])
@blp.response(200, ErasureSchema)
@blp.alt_response(404, description="No such caller")
@blp.alt_response(409, description="A callback to the caller is under way")
@require_role(Role.SUPERVISOR)
def erase(caller_id: int) -> dict[str, Any]:
    """Erase the caller: name, number and words, everywhere; an open callback is cancelled with a last text."""
    runtime = _runtime()
    try:
        with unit_of_work(runtime) as session:
            erasure = erase_caller(session, caller_id, actor=api_identity().name, now=runtime.clock.now())
    except NotFound:
        abort(404, message=f"no caller {caller_id}")
    except ChangeRefused as refused:
        abort(409, message=refused.message)
    return vars(erasure)
