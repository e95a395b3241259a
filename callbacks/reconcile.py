"""The reconciler: bring Redis in line with the database, settle what a crash left, text what is due.

The database is the source of truth. `reconcile` first moves the promises the agents logged in will
not reach (callbacks/forecast.py: the callers are told early), then schedules every open promise due
soon that has no live dial job, removes jobs of promises no longer open, recovers attempts a crashed
worker left half done, books and texts a new time for a missed promise a crash left untold, texts
the reminders that have come due and hands the SMS queue the texts still unsent.
Workers run it at start and every 30 seconds, so after Redis loses everything each open promise is
back on schedule within a minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from callbacks.attempts import DEFAULT_POLICY, DialPolicy
from callbacks.forecast import forecast
from callbacks.missed import rebook_untold
from callbacks.models import OPEN_PROMISE_STATES, CallbackPromise, PromiseState
from callbacks.recovery import recover_stale_attempts
from callbacks.reminders import send_due_reminders
from callbacks.scheduling import delete_unless_running, job_id_for, live_dial_job_ids, parse_job_id, schedule_promise
from routing.wrap_up import end_expired_wrap_ups
from telephony.outbox import redispatch_pending, settle_unfinished_sends
from terugbel.clock import ensure_utc
from terugbel.logs import get_logger
from terugbel.runtime import current_runtime
from terugbel.unit_of_work import unit_of_work

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)


@dataclass
class ReconcileReport:
    scheduled: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)  # attempt ids settled after a crash or a lost callback
    rebooked: list[int] = field(default_factory=list)  # missed promises a crash left without a new time or text
    sms: list[int] = field(default_factory=list)  # pending messages handed to the SMS queue again
    reminders: int = 0  # reminders texted: their window starts within half an hour
    wrap_ups_ended: list[int] = field(default_factory=list)  # agents whose wrap-up job Redis lost
    forecast_moved: list[int] = field(default_factory=list)  # promises moved: the agents there will not reach them


def reconcile(runtime: Runtime, policy: DialPolicy = DEFAULT_POLICY) -> ReconcileReport:
    """Bring Redis in line with the database: schedule what is missing, remove what is no longer needed.

    It also texts the reminders that have come due: it runs every 30 seconds in each worker, so a
    reminder goes out at most that late.
    """
    report = ReconcileReport()
    now = runtime.clock.now()
    with unit_of_work(runtime) as session:
        moved = forecast(session, now, timedelta(minutes=runtime.settings.forecast_minutes))
        report.forecast_moved = [m.old_id for m in moved]
    live = live_dial_job_ids(runtime.redis)
    due_at = func.coalesce(CallbackPromise.next_attempt_at, CallbackPromise.planned_dial_at)
    with runtime.db.session() as session:
        booked = session.execute(
            select(CallbackPromise.id, CallbackPromise.attempts, due_at)
            .where(CallbackPromise.state == PromiseState.BOOKED.value, due_at <= now + policy.reconcile_horizon)
            .order_by(due_at)
        ).all()
        open_states = {
            promise_id: (state, attempts)
            for promise_id, state, attempts in session.execute(
                select(CallbackPromise.id, CallbackPromise.state, CallbackPromise.attempts).where(
                    CallbackPromise.state.in_([s.value for s in OPEN_PROMISE_STATES])
                )
            )
        }
    for promise_id, attempts, due in booked:
        job_id = job_id_for(promise_id, attempts + 1)
        if job_id not in live:
            schedule_promise(runtime.redis, promise_id, attempts + 1, max(ensure_utc(due), now))
            report.scheduled.append(job_id)
    for job_id in sorted(live):
        parsed = parse_job_id(job_id)
        if parsed is None:
            continue
        promise_id, attempt = parsed
        state = open_states.get(promise_id)
        # A job is stale when its promise is closed, or it is for an attempt already made.
        stale = state is None or (state[0] == PromiseState.BOOKED.value and attempt != state[1] + 1)
        if stale and delete_unless_running(runtime.redis, job_id):
            report.removed.append(job_id)
    report.recovered = recover_stale_attempts(runtime, policy)
    report.rebooked = rebook_untold(runtime)
    report.reminders = send_due_reminders(runtime)
    report.wrap_ups_ended = end_expired_wrap_ups(runtime)
    settle_unfinished_sends(runtime)  # first: a send found unfinished goes out again in this pass
    report.sms = redispatch_pending(runtime)
    changed = report.scheduled or report.removed or report.recovered or report.rebooked or report.sms
    if changed or report.reminders or moved:
        log.info(
            "reconciled dial jobs",
            forecast_moved=len(report.forecast_moved),
            scheduled=len(report.scheduled),
            removed=len(report.removed),
            recovered=len(report.recovered),
            rebooked=len(report.rebooked),
            sms=len(report.sms),
            reminders=report.reminders,
        )
    return report


def reconcile_job() -> dict[str, int]:
    """RQ job: bring the dial and SMS jobs in Redis in line with the promises and messages in the database."""
    report = reconcile(current_runtime())
    return {
        "scheduled": len(report.scheduled),
        "removed": len(report.removed),
        "recovered": len(report.recovered),
        "sms": len(report.sms),
    }
