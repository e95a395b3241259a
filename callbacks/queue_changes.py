"""A supervisor's changes to a queue (routing.queue_settings), each re-planned in the same unit of work.

routing cannot know callbacks, so the change and its re-plan meet here: the console and the API
call these, never routing.queue_settings directly. A change that leaves every slot as it was
(a new label, a wait threshold) re-plans nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbacks.replanning import ReplanCause, replan_queue
from routing.models import Holiday, Queue
from routing.queue_settings import add_holiday, delete_holiday, set_business_hours, update_queue_settings
from terugbel.validation import NotFound


def change_queue_settings(
    session: Session, *, queue_id: int, values: dict[str, str], actor: str, now: datetime
) -> Queue:
    """Change a queue's settings; a new slot length, time zone or callback share re-plans it."""
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise NotFound(queue_id)
    before = (queue.slot_minutes, queue.timezone, queue.callback_share)
    update_queue_settings(session, queue_id=queue_id, values=values, actor=actor, now=now)
    cause = _settings_cause(before, (queue.slot_minutes, queue.timezone, queue.callback_share))
    if cause is not None:
        session.flush()  # the slot rules are read afresh from what this transaction wrote
        replan_queue(session, queue_id, now=now, cause=cause)
    return queue


def _settings_cause(before: tuple[int, str, float], after: tuple[int, str, float]) -> ReplanCause | None:
    (slot_before, zone_before, share_before), (slot_after, zone_after, share_after) = before, after
    if slot_before != slot_after:
        return ReplanCause.SLOT_LENGTH
    if zone_before != zone_after:
        return ReplanCause.QUEUE_SETTINGS
    if share_before != share_after:
        return ReplanCause.CALLBACK_SHARE
    return None


def change_hours(
    session: Session, *, queue_id: int, hours: dict[int, tuple[str, str]], actor: str, now: datetime
) -> None:
    """Replace a queue's opening hours and re-plan it."""
    set_business_hours(session, queue_id=queue_id, hours=hours, actor=actor, now=now)
    session.flush()
    replan_queue(session, queue_id, now=now, cause=ReplanCause.OPENING_HOURS)


def close_day(session: Session, *, queue_id: int | None, day: str, name: str, actor: str, now: datetime) -> Holiday:
    """Close a queue (or every queue, `queue_id` None) on a day, and re-plan what it closes."""
    if queue_id is not None and session.get(Queue, queue_id) is None:
        raise NotFound(queue_id)
    holiday = add_holiday(session, queue_id=queue_id, day=day, name=name, actor=actor, now=now)
    _replan_closed_day(session, queue_id, now, ReplanCause.CLOSED_DAY_ADDED)
    return holiday


def open_day(session: Session, *, holiday_id: int, actor: str, now: datetime) -> None:
    """Open a closed day again; its slots are made and offered again."""
    holiday = session.get(Holiday, holiday_id)
    if holiday is None:
        raise NotFound(holiday_id)
    queue_id = holiday.queue_id
    delete_holiday(session, holiday_id=holiday_id, actor=actor, now=now)
    _replan_closed_day(session, queue_id, now, ReplanCause.CLOSED_DAY_REMOVED)


def _replan_closed_day(session: Session, queue_id: int | None, now: datetime, cause: ReplanCause) -> None:
    session.flush()
    queue_ids = [queue_id] if queue_id is not None else list(session.scalars(select(Queue.id).order_by(Queue.id)))
    for each in queue_ids:
        replan_queue(session, each, now=now, cause=cause)
