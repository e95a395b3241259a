"""JSON API for callbacks: book from a web form or CRM, see slots and promises, cancel or move.

Thin: validate → one callbacks service call in `unit_of_work` (dial jobs and SMS after
commit) → render. The same rules and the same SMS as a booking from the phone menu.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.booking import book_callback, cancel_promise, move_promise
from callbacks.errors import CallbackError, NoSlotAvailable, PromiseBusy, PromiseNotFound, SlotFull, UnusableNumber
from callbacks.models import CallbackPromise, CallbackSlot, PromiseState
from callbacks.offers import ensure_slots
from callbacks.promise import InvalidPromiseTransition
from callbacks.timeparse import parse_requested_time
from console.api import DatabaseId, api_identity, require_role
from console.models import Role
from routing.models import Intent, Queue
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import ID_MAX, ID_MIN, whole_number

blp = Blueprint("api_callbacks", __name__, url_prefix="/api", description="Callback slots and promises")

MAX_RANGE = timedelta(days=14)


def _zone_name(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("not a known time zone (e.g. Europe/Amsterdam)") from None


class WishSchema(Schema):
    slot_id = DatabaseId(load_default=None, metadata={"description": "Book exactly this slot"})
    preferred_time = fields.AwareDateTime(
        load_default=None, metadata={"description": "The nearest slot with room to this moment"}
    )
    preferred_text = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "A time in words, e.g. 'morgen om 10:00' or 'tomorrow at eleven'"},
    )


class BookingSchema(WishSchema):
    number = fields.String(required=True, validate=validate.Length(min=3, max=40))
    intent = fields.String(
        load_default=None, metadata={"description": "Intent name; gives the queue (give an intent or a queue)"}
    )
    queue = fields.String(load_default=None, metadata={"description": "Queue name (or id), when no intent"})
    language = fields.String(load_default="nl", validate=validate.OneOf(["nl", "en"]))
    timezone = fields.String(load_default=None, validate=_zone_name)
    region = fields.String(load_default=None, validate=validate.Length(equal=2))
    problem = fields.String(load_default=None, validate=validate.Length(max=500))

    @validates_schema
    def _needs_a_queue(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data.get("intent") and not data.get("queue"):
            raise ValidationError("give an intent or a queue", field_name="intent")


class CancelSchema(Schema):
    reason = fields.String(load_default="cancelled via API", validate=validate.Length(max=150))


class PromiseSchema(Schema):
    id = fields.Integer()
    state = fields.String()
    queue_id = fields.Integer()
    intent_id = fields.Integer(allow_none=True)
    slot_id = fields.Integer(allow_none=True)
    number = fields.String()
    language = fields.String()
    timezone = fields.String()
    window_start = fields.AwareDateTime()
    window_end = fields.AwareDateTime()
    planned_dial_at = fields.AwareDateTime()
    attempts = fields.Integer()
    source = fields.String()
    moved_by_us = fields.Boolean()
    moved_to_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    booked_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime(allow_none=True)


class SlotSchema(Schema):
    id = fields.Integer()
    queue_id = fields.Integer()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    capacity = fields.Integer()
    capacity_override = fields.Integer(allow_none=True)
    closed = fields.Boolean()
    booked = fields.Integer()
    room = fields.Method("_room")

    def _room(self, slot: CallbackSlot) -> int:
        return 0 if slot.closed else max(slot.capacity - slot.booked, 0)


class SlotQuerySchema(Schema):
    queue = fields.String(required=True, metadata={"description": "Queue name (or id)"})
    from_ = fields.AwareDateTime(data_key="from", load_default=None)
    to = fields.AwareDateTime(load_default=None)


class PromiseQuerySchema(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf([s.value for s in PromiseState]))
    queue = fields.String(load_default=None, metadata={"description": "Queue name (or id)"})
    from_ = fields.AwareDateTime(data_key="from", load_default=None)
    to = fields.AwareDateTime(load_default=None)
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["terugbel"]
    return runtime


def _field_error(status: int, field: str, message: str) -> NoReturn:
    abort(status, message=message, errors={"json": {field: [message]}})


def _find_queue(session: Session, name_or_id: str, field: str = "queue") -> Queue:
    query = select(Queue).where(Queue.name == name_or_id)
    queue_id = whole_number(name_or_id, ID_MIN, ID_MAX)
    if queue_id is not None:
        query = select(Queue).where((Queue.name == name_or_id) | (Queue.id == queue_id))
    queue = session.scalars(query).first()
    if queue is None:
        _field_error(422, field, f"no queue named {name_or_id!r}")
    return queue


def _wished_moment(args: dict[str, Any], language: str, zone: str, now: datetime) -> datetime | None:
    if args.get("preferred_time") is not None:
        return args["preferred_time"]
    text = args.get("preferred_text")
    if not text:
        return None
    moment = parse_requested_time(text, language, zone, now)
    if moment is None:
        _field_error(422, "preferred_text", "no day or time found in these words")
    return moment


def _booking_error(exc: CallbackError, language: str) -> NoReturn:
    if isinstance(exc, UnusableNumber):
        _field_error(422, "number", exc.message(language))
    if isinstance(exc, SlotFull):
        _field_error(409, "slot_id", "that slot has no place left")
    if isinstance(exc, NoSlotAvailable):
        abort(409, message="no callback slot with room in the coming days")
    if isinstance(exc, PromiseNotFound):
        abort(404, message=str(exc))
    if isinstance(exc, PromiseBusy):
        abort(409, message="the callback is being made right now and cannot be changed")
    abort(422, message=str(exc))


@blp.route("/callbacks", methods=["POST"])
@blp.arguments(BookingSchema)
@blp.response(201, PromiseSchema)
@require_role(Role.AGENT)
def create_callback(args: dict[str, Any]) -> CallbackPromise:
    """Book a callback (web form, CRM): the nearest slot with room to the wished time, confirmed by SMS."""
    runtime = _runtime()
    now = runtime.clock.now()
    zone = args["timezone"] or runtime.settings.timezone
    try:
        with unit_of_work(runtime) as session:
            intent_id = None
            if args["intent"]:
                intent = session.scalars(select(Intent).where(Intent.name == args["intent"])).first()
                if intent is None or not intent.active:
                    _field_error(422, "intent", f"no active intent named {args['intent']!r}")
                queue_id, intent_id = intent.queue_id, intent.id
            else:
                queue_id = _find_queue(session, args["queue"]).id
            return book_callback(
                session,
                queue_id=queue_id,
                number=args["number"],
                language=args["language"],
                timezone=zone,
                now=now,
                slot_id=args["slot_id"],
                near=_wished_moment(args, args["language"], zone, now),
                intent_id=intent_id,
                problem=args["problem"],
                source="api",
                region=args["region"] or runtime.settings.default_region,
            )
    except CallbackError as exc:
        _booking_error(exc, args["language"])


@blp.route("/slots")
@blp.arguments(SlotQuerySchema, location="query")
@blp.response(200, SlotSchema(many=True))
@require_role(Role.AGENT)
def list_slots(args: dict[str, Any]) -> list[CallbackSlot]:
    """Show a queue's slots between `from` and `to` (default: the next 24 hours) with capacity and bookings."""
    runtime = _runtime()
    now = runtime.clock.now()
    start = args["from_"] or now
    end = args["to"] or start + timedelta(days=1)
    if end <= start or end - start > MAX_RANGE:
        _field_error(422, "to", "must be after 'from' and at most 14 days later")
    with runtime.db.session() as session:
        queue = _find_queue(session, args["queue"])
        return ensure_slots(session, queue.id, start, end, now)


@blp.route("/callbacks")
@blp.arguments(PromiseQuerySchema, location="query")
@blp.response(200, PromiseSchema(many=True))
@require_role(Role.AGENT)
def list_callbacks(args: dict[str, Any]) -> list[CallbackPromise]:
    """List promises by state, queue and window (windows that start in [from, to))."""
    runtime = _runtime()
    with runtime.db.session() as session:
        query = select(CallbackPromise).order_by(CallbackPromise.window_start, CallbackPromise.id)
        if args["state"]:
            query = query.where(CallbackPromise.state == args["state"])
        if args["queue"]:
            query = query.where(CallbackPromise.queue_id == _find_queue(session, args["queue"]).id)
        if args["from_"]:
            query = query.where(CallbackPromise.window_start >= args["from_"])
        if args["to"]:
            query = query.where(CallbackPromise.window_start < args["to"])
        return list(session.scalars(query.limit(args["limit"])))


@blp.route("/callbacks/<int:promise_id>/cancel", methods=["POST"])
@blp.arguments(CancelSchema)
@blp.response(200, PromiseSchema)
@require_role(Role.AGENT)
def cancel_callback(args: dict[str, Any], promise_id: int) -> CallbackPromise:
    """Cancel an open promise; the caller is told by SMS."""
    runtime = _runtime()
    cause = f"{args['reason']} ({api_identity().name})"
    try:
        with unit_of_work(runtime) as session:
            return cancel_promise(session, promise_id, runtime.clock.now(), cause, notify=True)
    except InvalidPromiseTransition:
        abort(409, message="this callback is no longer open")
    except CallbackError as exc:
        _booking_error(exc, "en")


@blp.route("/callbacks/<int:promise_id>/move", methods=["POST"])
@blp.arguments(WishSchema)
@blp.response(200, PromiseSchema)
@require_role(Role.AGENT)
def move_callback(args: dict[str, Any], promise_id: int) -> CallbackPromise:
    """Move an open promise to a slot or the nearest slot with room to a time; returns the new promise."""
    runtime = _runtime()
    now = runtime.clock.now()
    try:
        with unit_of_work(runtime) as session:
            promise = session.get(CallbackPromise, promise_id)
            if promise is None:
                raise PromiseNotFound(f"no callback {promise_id}")
            near = _wished_moment(args, promise.language, promise.timezone, now)
            return move_promise(
                session,
                promise_id,
                now,
                slot_id=args["slot_id"],
                near=near,
                cause=f"moved via API ({api_identity().name})",
            )
    except InvalidPromiseTransition:
        abort(409, message="this callback is no longer open")
    except CallbackError as exc:
        _booking_error(exc, "en")
