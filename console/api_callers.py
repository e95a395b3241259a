"""JSON API for callers' personal data: erasure on request (the right to be forgotten)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from console.api import api_identity, require_role
from console.models import Role
from privacy.erasure import erase_caller
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import ChangeRefused, NotFound

blp = Blueprint("api_callers", __name__, url_prefix="/api", description="Callers and their personal data")


class ErasureSchema(Schema):
    caller_id = fields.Integer(metadata={"description": "the id the caller had; it no longer exists"})
    cancelled_callbacks = fields.Integer(metadata={"description": "open callbacks cancelled, each with a last text"})
    contacts = fields.Integer(metadata={"description": "contacts kept as anonymous rows"})
    calls = fields.Integer()
    callbacks = fields.Integer()
    texts = fields.Integer()


@blp.route("/callers/<int:caller_id>", methods=["DELETE"])
@blp.response(200, ErasureSchema)
@blp.alt_response(404, description="No such caller")
@blp.alt_response(409, description="A callback to the caller is under way")
@require_role(Role.SUPERVISOR)
def erase(caller_id: int) -> dict[str, Any]:
    """Erase the caller: name, number and words, everywhere; an open callback is cancelled with a last text."""
    runtime: Runtime = current_app.extensions["terugbel"]
    try:
        with unit_of_work(runtime) as session:
            erasure = erase_caller(session, caller_id, actor=api_identity().name, now=runtime.clock.now())
    except NotFound:
        abort(404, message=f"no caller {caller_id}")
    except ChangeRefused as refused:
        abort(409, message=refused.message)
    return vars(erasure)
