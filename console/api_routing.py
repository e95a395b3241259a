"""JSON API for routing rules: the live set, publishing, versions, rollback, and the dry run.

Thin: validate the request → one routing service call in one transaction → render. A rule set
that fails validation is answered with 422 and `errors.rules`: one entry per problem, naming the
rule (index and name) and the field, e.g. `actions.route_to_queue`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from console.api import DatabaseId, api_identity, require_role
from console.models import Role
from routing.dry_run import dry_run
from routing.models import RuleSetVersion
from routing.route import UnknownIntent
from routing.rule_sets import (
    UnknownRuleSetVersion,
    check_rule_set,
    list_versions,
    live_rule_set,
    publish_rule_set,
    rollback_rule_set,
)
from routing.rules import InvalidRuleSet, RuleError
from terugbel.runtime import Runtime

blp = Blueprint(
    "api_routing",
    __name__,
    url_prefix="/api/routing",
    description="Routing rules that supervisors edit, versioned, with a dry run",
)

RULES_DESCRIPTION = (
    "Ordered rules; each {name, conditions, actions, enabled?}. Conditions (all must hold): always, "
    "intent_in, language, vip, repeat_count_at_least, has_open_promise, matches_incident, number_prefix, "
    "region, day_time {weekdays, from, to}, wait_estimate_above_seconds (n or {queue, seconds}), "
    "queue_open, queue_closed. Actions: route_to_queue, route_to_agent (agent id), set_priority, "
    "raise_priority, offer_callback_first, announce {nl, en}, stop."
)


class RuleErrorSchema(Schema):
    rule_index = fields.Integer(allow_none=True, metadata={"description": "0-based position of the rule"})
    rule_name = fields.String(allow_none=True)
    field = fields.String(metadata={"description": "e.g. actions.route_to_queue"})
    message = fields.String()


class RuleSetSchema(Schema):
    version = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime(allow_none=True)
    created_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    rolled_back_from = fields.Integer(allow_none=True)
    rules = fields.List(fields.Dict(), metadata={"description": RULES_DESCRIPTION})
    problems = fields.List(
        fields.Nested(RuleErrorSchema),
        metadata={"description": "What no longer validates, e.g. a queue or agent deleted since; skipped in calls"},
    )


class VersionSummarySchema(Schema):
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    created_by = fields.String()
    note = fields.String(allow_none=True)
    rolled_back_from = fields.Integer(allow_none=True)
    rule_count = fields.Integer()
    live = fields.Boolean()


class PublishSchema(Schema):
    rules = fields.List(fields.Dict(), required=True, metadata={"description": RULES_DESCRIPTION})
    note = fields.String(load_default=None, validate=validate.Length(max=300))


class DraftSchema(Schema):
    rules = fields.List(fields.Dict(), required=True, metadata={"description": RULES_DESCRIPTION})


class ValidationResultSchema(Schema):
    valid = fields.Boolean()
    errors = fields.List(fields.Nested(RuleErrorSchema))


class RollbackSchema(Schema):
    version = DatabaseId(required=True)


class DryRunRequestSchema(Schema):
    number = fields.String(load_default=None, validate=validate.Length(max=40))
    intent = fields.String(
        load_default=None, metadata={"description": "Intent name (give an intent or the caller's words)"}
    )
    words = fields.String(
        load_default=None,
        validate=validate.Length(max=500),
        metadata={"description": "What the caller says, when no intent is given"},
    )
    at = fields.AwareDateTime(load_default=None, metadata={"description": "Default: now"})
    language = fields.String(load_default=None, validate=validate.OneOf(["nl", "en"]))
    rules = fields.List(
        fields.Dict(),
        load_default=None,
        metadata={"description": "A draft rule set to try instead of the live one. " + RULES_DESCRIPTION},
    )

    @validates_schema
    def _intent_or_words(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data.get("intent") and not data.get("words"):
            raise ValidationError("give an intent or the caller's words", field_name="intent")


class DecisionSchema(Schema):
    queue_id = fields.Integer()
    queue_name = fields.String()
    preferred_agent_id = fields.Integer(allow_none=True)
    preferred_wait_seconds = fields.Integer()
    priority = fields.Integer()
    wait_estimate_seconds = fields.Integer()
    queue_open = fields.Boolean()
    offer_callback_first = fields.Boolean()
    announcement = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    explanation = fields.String()
    rule_name = fields.String(allow_none=True)
    repeat_count = fields.Integer()
    matched_rules = fields.List(fields.String())
    skipped_rules = fields.List(fields.String())


class DryRunResultSchema(Schema):
    decision = fields.Nested(DecisionSchema)
    explanation = fields.String()
    intent = fields.String(allow_none=True)
    caller_known = fields.Boolean()
    caller_name = fields.String(allow_none=True)
    incidents = fields.List(fields.String())
    rule_set_version = fields.Integer(allow_none=True, metadata={"description": "None: a draft was tried"})
    at = fields.AwareDateTime()


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def _conflict() -> NoReturn:
    # Two publishes at the same moment both claimed the next version number; one lost.
    abort(409, message="another change to the rules was published at the same moment; reload and try again")


def _invalid(errors: list[RuleError]) -> NoReturn:
    abort(
        422,
        message=f"the rule set is not valid: {len(errors)} problem(s); nothing was changed",
        errors={"rules": [error.as_dict() for error in errors]},
    )


def _version_dict(version: RuleSetVersion | None) -> dict[str, Any]:
    if version is None:
        return {"version": None, "rules": []}
    return {
        "version": version.version,
        "created_at": version.created_at,
        "created_by": version.created_by,
        "note": version.note,
        "rolled_back_from": version.rolled_back_from,
        "rules": version.rules,
    }


@blp.route("/rules")
@blp.response(200, RuleSetSchema)
@require_role(Role.SUPERVISOR)
def get_rules() -> dict[str, Any]:
    """Return the live rule set (version null and no rules before the first publish) and its problems."""
    with _runtime().db.session() as session:
        live = live_rule_set(session)
        problems = check_rule_set(session, live.rules) if live is not None else []
        return {**_version_dict(live), "problems": [p.as_dict() for p in problems]}


@blp.route("/rules", methods=["POST"])
@blp.arguments(PublishSchema)
@blp.response(201, RuleSetSchema)
@blp.alt_response(422, description="The rule set is not valid; errors.rules names each rule and field")
@blp.alt_response(409, description="Another change was published at the same moment")
@require_role(Role.SUPERVISOR)
def publish_rules(args: dict[str, Any]) -> dict[str, Any]:
    """Validate and publish a new version of the rule set; it is live at once."""
    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            version = publish_rule_set(
                session, args["rules"], api_identity().name, runtime.clock.now(), note=args["note"]
            )
            return _version_dict(version)
    except InvalidRuleSet as exc:
        _invalid(exc.errors)
    except IntegrityError:
        _conflict()


@blp.route("/rules/validate", methods=["POST"])
@blp.arguments(DraftSchema)
@blp.response(200, ValidationResultSchema)
@require_role(Role.SUPERVISOR)
def validate_rules(args: dict[str, Any]) -> dict[str, Any]:
    """Check a draft rule set without publishing it."""
    with _runtime().db.session() as session:
        errors = check_rule_set(session, args["rules"])
    return {"valid": not errors, "errors": [e.as_dict() for e in errors]}


@blp.route("/rules/versions")
@blp.response(200, VersionSummarySchema(many=True))
@require_role(Role.SUPERVISOR)
def get_versions() -> list[dict[str, Any]]:
    """List every version, newest (the live one) first."""
    with _runtime().db.session() as session:
        versions = list_versions(session)
    return [
        {
            "version": v.version,
            "created_at": v.created_at,
            "created_by": v.created_by,
            "note": v.note,
            "rolled_back_from": v.rolled_back_from,
            "rule_count": len(v.rules or []),
            "live": index == 0,
        }
        for index, v in enumerate(versions)
    ]


@blp.route("/rules/versions/<int:version>")
@blp.response(200, RuleSetSchema)
@require_role(Role.SUPERVISOR)
def get_version(version: int) -> dict[str, Any]:
    """Return one version with its rules."""
    with _runtime().db.session() as session:
        found = session.scalar(select(RuleSetVersion).where(RuleSetVersion.version == version))
        if found is None:
            abort(404, message=f"there is no rule set version {version}")
        return _version_dict(found)


@blp.route("/rules/rollback", methods=["POST"])
@blp.arguments(RollbackSchema)
@blp.response(201, RuleSetSchema)
@blp.alt_response(404, description="No such version")
@blp.alt_response(422, description="The old rules name something that no longer exists")
@require_role(Role.SUPERVISOR)
def rollback_rules(args: dict[str, Any]) -> dict[str, Any]:
    """Publish a new version with the rules of an earlier one."""
    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            version = rollback_rule_set(session, args["version"], api_identity().name, runtime.clock.now())
            return _version_dict(version)
    except UnknownRuleSetVersion as exc:
        abort(404, message=str(exc), errors={"json": {"version": [str(exc)]}})
    except InvalidRuleSet as exc:
        _invalid(exc.errors)
    except IntegrityError:
        _conflict()


@blp.route("/dry-run", methods=["POST"])
@blp.arguments(DryRunRequestSchema)
@blp.response(200, DryRunResultSchema)
@blp.alt_response(422, description="Unknown intent, or a draft rule set that is not valid")
@require_role(Role.SUPERVISOR)
def dry_run_decision(args: dict[str, Any]) -> dict[str, Any]:
    """Decide for a pretend caller against the live rules or a draft, changing nothing."""
    runtime = _runtime()
    at: datetime = args["at"] or runtime.clock.now()
    try:
        with runtime.db.session() as session:
            result = dry_run(
                session,
                number=args["number"],
                intent_name=args["intent"],
                words=args["words"],
                at=at,
                rules=args["rules"],
                language=args["language"],
                region=runtime.settings.default_region,
                zone=runtime.settings.timezone,
                window_days=runtime.settings.repeat_window_days,
                preferred_wait_seconds=runtime.settings.preferred_agent_wait_seconds,
            )
    except InvalidRuleSet as exc:
        _invalid(exc.errors)
    except UnknownIntent as exc:
        abort(422, message=str(exc), errors={"json": {"intent": [str(exc)]}})
    return {
        "decision": result.decision,
        "explanation": result.decision.explanation,
        "intent": result.intent,
        "caller_known": result.caller_known,
        "caller_name": result.caller_name,
        "incidents": result.incidents,
        "rule_set_version": result.rule_set_version,
        "at": at,
    }
