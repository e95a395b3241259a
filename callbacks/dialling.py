"""Keeping a promise by phone: agent first (with a whisper), then the caller with async AMD.

Every step is one database transaction guarded by the state it expects (the promise's and the
attempt's rows are locked), so a job that runs twice, a duplicate or late status callback, or a
request arriving after a crash finds the state already moved and does nothing. The intent to place
a leg is committed before the network is asked (an agent reserved on an `intended` attempt, a
claimed `caller_ringing` attempt), and the SID is recorded after; if a worker dies in between, the
leg's own status callback (its URL names the attempt) records the SID, and `recover_stale_attempts`
settles whatever stays silent — never by dialling the caller again for the same attempt.

Network calls (placing, redirecting, ending legs) happen outside transactions; work that must
follow a commit (SMS, dial jobs, releasing an agent's leg) is collected and run after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from callbacks.attempts import (
    DEFAULT_POLICY,
    CallerResult,
    DialPolicy,
    GiveUp,
    PromiseTimeline,
    Retry,
    caller_result_from_status,
    classify_answered_by,
    dial_deadline,
    is_due,
    is_final_status,
    plan_after_caller,
    plan_after_network_error,
    plan_without_agent,
)
from callbacks.dispatch import FAILURE_TTL, RESULT_TTL, schedule_after_commit, unschedule_after_commit
from callbacks.models import AttemptState, CallbackAttempt, CallbackPromise, PromiseState
from callbacks.outbox import queue_sms
from callbacks.promise import transition
from routing.models import Agent, AgentState, Contact, ContactChannel, ContactOutcome, Intent, Queue, Shift
from telephony.port import (
    OutboundCall,
    PermanentTelephonyError,
    RetryableTelephonyError,
    TelephonyError,
)
from terugbel.audit import record_audit
from terugbel.i18n import format_moment, format_window, t
from terugbel.logs import get_logger
from terugbel.phone import display_number, mask
from terugbel.redis_conn import DIAL_QUEUE, queue
from terugbel.unit_of_work import AfterCommit, after_commit, unit_of_work

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)

A = AttemptState
S = PromiseState
AGENT_LANGUAGE = "nl"  # the agents' working language: whispers and prompts on the agent leg
CALLER_CLAIM = "dialling the caller"  # result of a caller_ringing attempt whose caller leg is being placed
MAX_HOLD_POLLS = 45  # one second each: longer than any answering-machine detection takes
ACTOR = "dispatch"


# --- after commit ---------------------------------------------------------------------------------


# Where a waiting agent's leg goes when the caller was not reached (served by webhooks/callbacks_views.py).
AGENT_RELEASED_PATH = "/twilio/callbacks/agent/released"


def _enqueue_after_commit(
    after: AfterCommit, func_path: str, *args: Any, job_id: str | None = None, at: datetime | None = None
) -> None:
    """Put a dial step on the dial queue once the transaction has committed (at `at`, or now)."""

    def enqueue(runtime: Runtime) -> None:
        dial_queue = queue(runtime.redis, DIAL_QUEUE)
        options: dict[str, Any] = {"job_id": job_id, "result_ttl": RESULT_TTL, "failure_ttl": FAILURE_TTL}
        if at is None:
            dial_queue.enqueue(func_path, *args, **options)
        else:
            dial_queue.enqueue_at(at, func_path, *args, **options)

    after.add(enqueue, key=("job", job_id) if job_id is not None else None)


def _redirect_after_commit(after: AfterCommit, call_sid: str, path: str) -> None:
    """Send a live leg to the TwiML at `path` once the transaction has committed."""

    def redirect(runtime: Runtime) -> None:
        try:
            runtime.telephony.redirect_call(call_sid, url=runtime.url(path))
        except TelephonyError as exc:
            # The leg is already over (or the network hiccups): the agent is free either way.
            log.info("agent leg not redirected", call_sid=call_sid, error=str(exc))

    after.add(redirect, key=("redirect", call_sid))


def _hang_up_after_commit(after: AfterCommit, call_sid: str) -> None:
    """End a live leg once the transaction has committed."""

    def hang_up(runtime: Runtime) -> None:
        try:
            runtime.telephony.end_call(call_sid)
        except TelephonyError as exc:
            log.info("leg not ended", call_sid=call_sid, error=str(exc))

    after.add(hang_up, key=("hangup", call_sid))


@contextmanager
def _transaction(runtime: Runtime) -> Iterator[tuple[Session, AfterCommit]]:
    """One transaction for callback changes, and its after-commit list."""
    with unit_of_work(runtime) as session:
        yield session, after_commit(session)


def _lock_promise(session: Session, promise_id: int) -> CallbackPromise | None:
    return session.scalars(
        select(CallbackPromise)
        .where(CallbackPromise.id == promise_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _lock_attempt(session: Session, attempt_id: int) -> tuple[CallbackAttempt, CallbackPromise] | None:
    attempt = session.scalars(
        select(CallbackAttempt)
        .where(CallbackAttempt.id == attempt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if attempt is None:
        return None
    promise = _lock_promise(session, attempt.promise_id)
    assert promise is not None  # attempts cascade with their promise
    return attempt, promise


# --- URLs the legs talk to ----------------------------------------------------------------------


def _url(runtime: Runtime, path: str, **params: object) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return runtime.url(f"/twilio/callbacks{path}?{query}")


def conference_name(attempt_id: int) -> str:
    return f"terugbel-callback-{attempt_id}"


# --- agents -----------------------------------------------------------------------------------------


def reserve_agent(session: Session, promise: CallbackPromise, exclude: list[int], now: datetime) -> Agent | None:
    """Reserve an available agent of the promise's queue on shift now, the preferred one first.

    The reservation is a conditional update (available → reserved), so two jobs never take one agent.
    """
    queue_row = session.get(Queue, promise.queue_id)
    if queue_row is None:
        return None
    on_shift = select(Shift.agent_id).where(Shift.starts_at <= now, Shift.ends_at > now)
    rows = session.scalars(
        select(Agent)
        .where(Agent.active.is_(True), Agent.state == AgentState.AVAILABLE.value, Agent.id.in_(on_shift))
        .order_by(func.coalesce(Agent.state_changed_at, now), Agent.id)
    ).all()
    candidates = [agent for agent in rows if queue_row.skill in (agent.skills or []) and agent.id not in exclude]
    candidates.sort(key=lambda agent: agent.id != promise.preferred_agent_id)  # stable: preferred first
    for agent in candidates:
        taken = session.execute(
            update(Agent)
            .where(Agent.id == agent.id, Agent.state == AgentState.AVAILABLE.value)
            .values(state=AgentState.RESERVED.value, state_changed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            return agent
    return None


def _release_agent(session: Session, agent_id: int | None, now: datetime) -> None:
    if agent_id is None:
        return
    session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.state.in_([AgentState.RESERVED.value, AgentState.ON_CALL.value]))
        .values(state=AgentState.AVAILABLE.value, state_changed_at=now)
        .execution_options(synchronize_session=False)
    )


def _agent_on_call(session: Session, agent_id: int | None, now: datetime) -> None:
    if agent_id is None:
        return
    session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.state == AgentState.RESERVED.value)
        .values(state=AgentState.ON_CALL.value, state_changed_at=now)
        .execution_options(synchronize_session=False)
    )


def _fail_attempt(session: Session, after: AfterCommit, attempt: CallbackAttempt, now: datetime, result: str) -> None:
    """End an attempt as failed and let its agent go at once (the leg is told, then hung up)."""
    attempt.state = A.FAILED.value
    attempt.ended_at = now
    attempt.result = result
    _release_agent(session, attempt.agent_id, now)
    _release_agent_leg(after, attempt)


def _release_agent_leg(after: AfterCommit, attempt: CallbackAttempt) -> None:
    """Tell a waiting agent the caller was not reached and end their leg."""
    if attempt.agent_call_sid:
        _redirect_after_commit(after, attempt.agent_call_sid, AGENT_RELEASED_PATH)


# --- the promise's steps ------------------------------------------------------------------------


def start_attempt(runtime: Runtime, promise_id: int, attempt: int, policy: DialPolicy = DEFAULT_POLICY) -> str:
    """Begin attempt `attempt` of a booked promise that is due, then ring an agent; return what happened."""
    from callbacks.dispatch import job_id_for

    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        promise = _lock_promise(session, promise_id)
        if promise is None:
            return "unknown promise"
        if promise.state != S.BOOKED.value:
            return f"promise is {promise.state}"
        if promise.attempts != attempt - 1:
            return f"attempt {attempt} is not the next one"
        due = promise.next_attempt_at or promise.planned_dial_at
        if not is_due(due, now, policy):
            return "not due yet"  # the reconciler puts a job back for the right time
        if now > dial_deadline(promise.window_start, promise.window_end):
            give_up(session, after, promise, now, "the window passed before the dial")
            return "given up"
        transition(promise, S.DIALLING, now, f"attempt {attempt}")
        promise.attempts = attempt
        promise.job_id = job_id_for(promise.id, attempt)
        promise.next_attempt_at = None
        record = CallbackAttempt(
            promise_id=promise.id,
            number=attempt,
            state=A.INTENDED.value,
            started_at=now,
            stage_at=now,
            agents_tried=[],
        )
        session.add(record)
        session.flush()
        attempt_id = record.id
    return ring_next_agent(runtime, attempt_id, policy=policy)


def ring_next_agent(runtime: Runtime, attempt_id: int, failures: int = 0, policy: DialPolicy = DEFAULT_POLICY) -> str:
    """Reserve the next agent for the attempt and ring them with the whisper."""
    from callbacks.dispatch import pacer_for

    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return "unknown attempt"
        attempt, promise = locked
        if attempt.state != A.INTENDED.value or promise.state != S.DIALLING.value:
            return f"attempt is {attempt.state}"
        if attempt.agent_id is not None:
            return "an agent leg is being placed"
        agent = reserve_agent(session, promise, list(attempt.agents_tried or []), now)
        if agent is None:
            _end_without_agent(session, after, promise, attempt, now, policy)
            return "no agent free"
        attempt.agent_id = agent.id
        attempt.stage_at = now
        agent_id, agent_phone = agent.id, agent.phone
    call = OutboundCall(
        to=agent_phone,
        from_=runtime.settings.twilio_from_number or "",
        url=_url(runtime, "/agent/whisper", attempt=attempt_id, agent=agent_id),
        status_callback=_url(runtime, "/status", attempt=attempt_id, leg="agent", agent=agent_id),
        status_callback_events=("answered", "completed"),
        timeout_seconds=policy.agent_ring_seconds,
        time_limit_seconds=4 * 3600,
    )
    pacer_for(runtime).wait_for_turn()
    try:
        placed = runtime.telephony.place_call(call)
    except RetryableTelephonyError as exc:
        log.warning("agent leg refused by the network", attempt=attempt_id, error=str(exc))
        _agent_leg_not_placed(runtime, attempt_id, agent_id, failures + 1, policy, tried=False)
        return "network refused the agent leg"
    except PermanentTelephonyError as exc:
        log.warning("agent phone cannot be called", attempt=attempt_id, agent=agent_id, error=str(exc))
        _agent_leg_not_placed(runtime, attempt_id, agent_id, 0, policy, tried=True)
        return "agent phone refused"
    with runtime.db.session() as session:
        session.execute(
            update(CallbackAttempt)
            .where(
                CallbackAttempt.id == attempt_id,
                CallbackAttempt.state == A.INTENDED.value,
                CallbackAttempt.agent_id == agent_id,
                CallbackAttempt.agent_call_sid.is_(None),
            )
            .values(agent_call_sid=placed.sid, state=A.AGENT_RINGING.value, stage_at=runtime.clock.now())
            .execution_options(synchronize_session=False)
        )
    return "agent ringing"


def _agent_leg_not_placed(
    runtime: Runtime, attempt_id: int, agent_id: int, failures: int, policy: DialPolicy, *, tried: bool
) -> None:
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, promise = locked
        if attempt.state != A.INTENDED.value or attempt.agent_id != agent_id or attempt.agent_call_sid:
            return
        _release_agent(session, agent_id, now)
        attempt.agent_id = None
        attempt.stage_at = now
        if tried:
            attempt.agents_tried = [*(attempt.agents_tried or []), agent_id]
            _enqueue_after_commit(after, "callbacks.jobs.ring_agent", attempt_id, 0)
            return
        step = plan_after_network_error(
            now=now,
            failures=failures,
            window_start=promise.window_start,
            window_end=promise.window_end,
            policy=policy,
        )
        if isinstance(step, Retry):
            _enqueue_after_commit(after, "callbacks.jobs.ring_agent", attempt_id, failures, at=step.at)
        else:
            attempt.state = A.FAILED.value
            attempt.ended_at = now
            attempt.result = "network refused"
            give_up(session, after, promise, now, step.reason)


def _end_without_agent(
    session: Session,
    after: AfterCommit,
    promise: CallbackPromise,
    attempt: CallbackAttempt,
    now: datetime,
    policy: DialPolicy,
) -> None:
    attempt.state = A.NO_AGENT.value
    attempt.ended_at = now
    attempt.result = "no agent free"
    _flag_at_risk(session, promise, now, "no agent free")
    step = plan_without_agent(now=now, window_end=promise.window_end, policy=policy)
    if isinstance(step, Retry):
        _back_to_booked(after, promise, now, step.at, "no agent free")
    else:
        give_up(session, after, promise, now, step.reason)


def _back_to_booked(after: AfterCommit, promise: CallbackPromise, now: datetime, at: datetime, cause: str) -> None:
    # Whole seconds: RQ schedules by the second, and the announced time is what we dial at.
    if at.microsecond:
        at = at.replace(microsecond=0) + timedelta(seconds=1)
    transition(promise, S.BOOKED, now, cause)
    promise.next_attempt_at = at
    schedule_after_commit(after, promise.id, promise.attempts + 1, at)


def _flag_at_risk(session: Session, promise: CallbackPromise, now: datetime, reason: str) -> None:
    if promise.at_risk:
        return
    promise.at_risk = True
    record_audit(
        session,
        at=now,
        actor=ACTOR,
        action="promise_at_risk",
        subject=f"promise {promise.id}",
        details={"reason": reason, "window_end": promise.window_end.isoformat()},
    )


def give_up(session: Session, after: AfterCommit, promise: CallbackPromise, now: datetime, reason: str) -> None:
    """The promise cannot be kept: mark it missed, book a new time, and text the caller that time now."""
    from callbacks.service import CallbackError, book_callback

    old_window = format_window(promise.window_start, promise.window_end, promise.timezone, promise.language, now)
    transition(promise, S.MISSED, now, reason)
    promise.reason = reason[:200]
    promise.next_attempt_at = None
    _flag_at_risk(session, promise, now, reason)
    unschedule_after_commit(after, promise.id)
    session.flush()  # leave the one-open-promise-per-number index before the new booking enters it
    slot_length = promise.window_end - promise.window_start
    number = display_number(promise.number)
    try:
        with session.begin_nested():
            new = book_callback(
                session,
                queue_id=promise.queue_id,
                number=promise.number,
                language=promise.language,
                timezone=promise.timezone,
                now=now,
                near=promise.window_end + slot_length,
                caller_id=promise.caller_id,
                intent_id=promise.intent_id,
                problem=promise.problem,
                contact_id=promise.contact_id,
                preferred_agent_id=promise.preferred_agent_id,
                source=promise.source,
                needs_sms=False,
                notify=False,
            )
        promise.moved_to_id = new.id
        body = t(
            promise.language,
            "cbd_sms_rebooked",
            old_window=old_window,
            number=number,
            window=format_window(new.window_start, new.window_end, new.timezone, new.language, now),
        )
    except CallbackError as exc:
        log.warning("no new time for a missed promise", promise=promise.id, error=type(exc).__name__)
        body = t(promise.language, "cbd_sms_no_new_time", old_window=old_window)
    queue_sms(session, to=promise.number, body=body, purpose="promise_missed", now=now, promise_id=promise.id)
    log.warning("promise given up", promise=promise.id, reason=reason, number=mask(promise.number))


def _caller_tries(session: Session, promise_id: int, state: str | None = None) -> int:
    """Caller legs placed for the promise (those that ended in `state`, when given)."""
    query = (
        select(func.count())
        .select_from(CallbackAttempt)
        .where(CallbackAttempt.promise_id == promise_id, CallbackAttempt.caller_call_sid.is_not(None))
    )
    if state is not None:
        query = query.where(CallbackAttempt.state == state)
    return int(session.scalar(query) or 0)


# --- the agent leg ----------------------------------------------------------------------------------


def _note_agent_sid(attempt: CallbackAttempt, agent_id: int, call_sid: str, now: datetime) -> None:
    """A request of an agent leg whose SID a crashed worker never recorded: record it now."""
    if attempt.state == A.INTENDED.value and attempt.agent_id == agent_id and attempt.agent_call_sid is None:
        attempt.agent_call_sid = call_sid
        attempt.state = A.AGENT_RINGING.value
        attempt.stage_at = now


@dataclass(frozen=True)
class Whisper:
    text: str
    language: str


def agent_whisper(runtime: Runtime, attempt_id: int, agent_id: int, call_sid: str) -> Whisper | None:
    """What the agent hears before choosing: who, the problem in the caller's words, the history."""
    now = runtime.clock.now()
    with _transaction(runtime) as (session, _after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return None
        attempt, promise = locked
        _note_agent_sid(attempt, agent_id, call_sid, now)
        if attempt.state != A.AGENT_RINGING.value or attempt.agent_call_sid != call_sid:
            return None
        return Whisper(whisper_text(session, promise, now), AGENT_LANGUAGE)


def whisper_text(session: Session, promise: CallbackPromise, now: datetime) -> str:
    """ "Terugbelafspraak met Monique de Vries, over: factuur klopt niet. Tweede contact deze week over factuur." """
    from routing.history import caller_history, history_facts
    from routing.models import Caller

    lang = AGENT_LANGUAGE
    caller = session.get(Caller, promise.caller_id) if promise.caller_id else None
    who = caller.name if caller is not None and caller.name else t(lang, "cbd_unknown_caller")
    problem = (promise.problem or "").strip() or t(lang, "cbd_no_problem")
    intent = session.get(Intent, promise.intent_id) if promise.intent_id else None
    topic = (intent.label_nl if lang == "nl" else intent.label_en) if intent is not None else problem
    earlier = 0
    if caller is not None:
        # The contact in which the callback was booked is this same matter, not an earlier one.
        history = caller_history(session, caller.id, now, exclude_contact_id=promise.contact_id)
        earlier = history_facts(history, intent.name if intent is not None else None).repeat_count
    if earlier == 0:
        history_sentence = t(lang, "cbd_history_first")
    elif earlier == 1:
        history_sentence = t(lang, "cbd_history_second", topic=topic)
    elif earlier == 2:
        history_sentence = t(lang, "cbd_history_third", topic=topic)
    else:
        history_sentence = t(lang, "cbd_history_many", topic=topic, count=earlier + 1)
    return t(lang, "cbd_whisper", who=who, problem=problem, history=history_sentence)


def agent_accepts(runtime: Runtime, attempt_id: int, agent_id: int, call_sid: str) -> str | None:
    """The agent pressed 1: dial the caller; return the conference the agent waits in (None: not needed)."""
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return None
        attempt, promise = locked
        _note_agent_sid(attempt, agent_id, call_sid, now)
        if attempt.agent_call_sid != call_sid or promise.state not in (S.DIALLING.value, S.CONNECTED.value):
            return None
        if attempt.state == A.AGENT_RINGING.value:
            attempt.state = A.CALLER_RINGING.value
            attempt.stage_at = now
            attempt.result = None
            _enqueue_after_commit(
                after, "callbacks.jobs.dial_caller", attempt_id, 0, job_id=f"attempt-{attempt_id}-caller"
            )
            return conference_name(attempt_id)
        if attempt.state in (A.CALLER_RINGING.value, A.CONNECTED.value):
            return conference_name(attempt_id)  # the same request again: same answer, nothing twice
        return None


def agent_passes(runtime: Runtime, attempt_id: int, agent_id: int, call_sid: str | None) -> bool:
    """The agent pressed 2, did not answer, or hung up in the whisper: ring the next agent."""
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return False
        attempt, promise = locked
        if attempt.agent_id != agent_id or promise.state != S.DIALLING.value:
            return False
        if attempt.state not in (A.INTENDED.value, A.AGENT_RINGING.value):
            return False
        if call_sid is not None and attempt.agent_call_sid not in (None, call_sid):
            return False
        tried = [*(attempt.agents_tried or []), agent_id]
        attempt.agents_tried = tried
        _release_agent(session, agent_id, now)
        attempt.agent_id = None
        attempt.agent_call_sid = None
        attempt.state = A.INTENDED.value
        attempt.stage_at = now
        _enqueue_after_commit(
            after, "callbacks.jobs.ring_agent", attempt_id, 0, job_id=f"attempt-{attempt_id}-agent-{len(tried)}"
        )
        return True


def agent_leg_ended(runtime: Runtime, attempt_id: int, agent_id: int, call_sid: str, status: str) -> str:
    """The agent's leg is over: pass on when it never accepted, release the agent in every case."""
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return "unknown attempt"
        attempt, promise = locked
        if attempt.agent_id != agent_id or attempt.agent_call_sid not in (None, call_sid):
            # An earlier agent's leg (who passed and was released then): nothing to do.
            return "earlier leg"
        if attempt.state in (A.INTENDED.value, A.AGENT_RINGING.value):
            pass_on = True
        elif attempt.state == A.CALLER_RINGING.value:
            # The agent hung up while the caller's phone rang: stop that leg, try again shortly.
            if attempt.caller_call_sid:
                _hang_up_after_commit(after, attempt.caller_call_sid)
            attempt.state = A.FAILED.value
            attempt.ended_at = now
            attempt.result = "the agent left before the caller answered"
            _release_agent(session, agent_id, now)
            step = plan_without_agent(now=now, window_end=promise.window_end)
            if isinstance(step, Retry):
                _back_to_booked(after, promise, now, step.at, "agent left")
            else:
                give_up(session, after, promise, now, step.reason)
            return "agent left"
        else:
            # Released already when the caller was not reached; a talking agent is freed now.
            if attempt.state in (A.CONNECTED.value, A.COMPLETED.value):
                _release_agent(session, agent_id, now)
            return "agent released"
    if pass_on:
        agent_passes(runtime, attempt_id, agent_id, call_sid)
        return f"agent leg {status}: passed on"
    return "nothing"


def record_outcome(runtime: Runtime, attempt_id: int, resolved: bool) -> bool:
    """The agent's verdict at the end of the call: resolved, or follow-up needed; the contact keeps it."""
    with runtime.db.session() as session:
        attempt = session.get(CallbackAttempt, attempt_id)
        if attempt is None or attempt.caller_call_sid is None:
            return False
        contact = session.scalars(select(Contact).where(Contact.call_sid == attempt.caller_call_sid)).first()
        if contact is None:
            return False
        contact.resolved = resolved
        return True


# --- the caller leg ---------------------------------------------------------------------------------


def dial_caller(runtime: Runtime, attempt_id: int, failures: int = 0, policy: DialPolicy = DEFAULT_POLICY) -> str:
    """Place the caller's leg of an accepted attempt, once: the claim is committed before the dial."""
    from callbacks.dispatch import pacer_for

    now = runtime.clock.now()
    number: str | None = None
    with runtime.db.session() as session:
        promise_state = session.scalar(
            select(CallbackPromise.state)
            .join(CallbackAttempt, CallbackAttempt.promise_id == CallbackPromise.id)
            .where(CallbackAttempt.id == attempt_id)
        )
        if promise_state == S.DIALLING.value:
            claimed = session.execute(
                update(CallbackAttempt)
                .where(
                    CallbackAttempt.id == attempt_id,
                    CallbackAttempt.state == A.CALLER_RINGING.value,
                    CallbackAttempt.caller_call_sid.is_(None),
                    CallbackAttempt.result.is_(None),
                )
                .values(result=CALLER_CLAIM, stage_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed:
                number = session.scalar(
                    select(CallbackPromise.number)
                    .join(CallbackAttempt, CallbackAttempt.promise_id == CallbackPromise.id)
                    .where(CallbackAttempt.id == attempt_id)
                )
    if promise_state != S.DIALLING.value:
        # Cancelled after the agent accepted: nobody to call; free the waiting agent.
        _release_for_closed_promise(runtime, attempt_id)
        return f"promise is {promise_state}"
    if number is None:
        return "already dialled or no longer needed"
    call = OutboundCall(
        to=number,
        from_=runtime.settings.twilio_from_number or "",
        url=_url(runtime, "/caller/answer", attempt=attempt_id, poll=0),
        status_callback=_url(runtime, "/status", attempt=attempt_id, leg="caller"),
        status_callback_events=("answered", "completed"),
        machine_detection="DetectMessageEnd",
        async_amd=True,
        async_amd_status_callback=_url(runtime, "/caller/amd", attempt=attempt_id),
        timeout_seconds=policy.caller_ring_seconds,
        time_limit_seconds=4 * 3600,
    )
    pacer_for(runtime).wait_for_turn()
    try:
        placed = runtime.telephony.place_call(call)
    except RetryableTelephonyError as exc:
        if exc.status is None:
            # No answer at all (a timeout, a dropped connection): Twilio may have placed the call.
            # Keep the claim; the leg's callbacks record it, or recovery plans a new attempt later.
            log.warning("caller leg outcome unknown", attempt=attempt_id, error=str(exc))
            return "caller leg outcome unknown"
        log.warning("caller leg refused by the network", attempt=attempt_id, error=str(exc))
        _caller_leg_refused(runtime, attempt_id, failures + 1, policy)
        return "network refused the caller leg"
    except PermanentTelephonyError as exc:
        log.warning("caller number cannot be called", attempt=attempt_id, number=mask(number), error=str(exc))
        _caller_number_failed(runtime, attempt_id, str(exc))
        return "invalid number"
    with runtime.db.session() as session:
        session.execute(
            update(CallbackAttempt)
            .where(CallbackAttempt.id == attempt_id, CallbackAttempt.caller_call_sid.is_(None))
            .values(caller_call_sid=placed.sid)
            .execution_options(synchronize_session=False)
        )
    return "caller ringing"


def _release_for_closed_promise(runtime: Runtime, attempt_id: int) -> None:
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, _promise = locked
        if attempt.state != A.CALLER_RINGING.value or attempt.caller_call_sid:
            return
        _fail_attempt(session, after, attempt, now, "promise closed before the caller was dialled")


def _caller_leg_refused(runtime: Runtime, attempt_id: int, failures: int, policy: DialPolicy) -> None:
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, promise = locked
        if attempt.state != A.CALLER_RINGING.value or attempt.caller_call_sid or attempt.result != CALLER_CLAIM:
            return
        step = plan_after_network_error(
            now=now,
            failures=failures,
            window_start=promise.window_start,
            window_end=promise.window_end,
            policy=policy,
        )
        if isinstance(step, Retry):
            attempt.result = None  # unclaimed: the retry job claims it again
            _enqueue_after_commit(after,
                "callbacks.jobs.dial_caller",
                attempt_id,
                failures,
                job_id=f"attempt-{attempt_id}-caller-{failures}",
                at=step.at,
            )
            return
        _fail_attempt(session, after, attempt, now, "network refused")
        give_up(session, after, promise, now, step.reason)


def _caller_number_failed(runtime: Runtime, attempt_id: int, reason: str) -> None:
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, promise = locked
        if attempt.state != A.CALLER_RINGING.value or attempt.caller_call_sid:
            return
        _fail_attempt(session, after, attempt, now, "invalid number")
        old_window = format_window(promise.window_start, promise.window_end, promise.timezone, promise.language, now)
        transition(promise, S.FAILED, now, "invalid number")
        promise.reason = f"invalid number: {reason}"[:200]
        unschedule_after_commit(after, promise.id)
        # Texting may work where calling did not (or fail in the outbox, which records why).
        body = t(
            promise.language, "cbd_sms_number_failed", old_window=old_window, number=display_number(promise.number)
        )
        queue_sms(
            session, to=promise.number, body=body, purpose="promise_failed", now=now, promise_id=promise.id
        )


def _note_caller_sid(attempt: CallbackAttempt, call_sid: str) -> None:
    """A request of a caller leg whose SID a crashed worker never recorded: record it now."""
    if attempt.caller_call_sid is None and attempt.state == A.CALLER_RINGING.value and attempt.result == CALLER_CLAIM:
        attempt.caller_call_sid = call_sid


@dataclass(frozen=True)
class CallerStep:
    """What the caller's leg does next: hold (detection running), connect, voicemail, or a goodbye."""

    kind: str  # hold, connect, voicemail, goodbye
    text: str = ""
    language: str = "nl"
    conference: str | None = None


def caller_answer(
    runtime: Runtime, attempt_id: int, call_sid: str, poll: int, policy: DialPolicy = DEFAULT_POLICY
) -> CallerStep:
    """The caller's leg asks what to do: wait for detection, or connect a person, or leave a message."""
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return CallerStep("goodbye")
        attempt, promise = locked
        _note_caller_sid(attempt, call_sid)
        lang = promise.language
        if attempt.caller_call_sid != call_sid:
            return CallerStep("goodbye", language=lang)
        if attempt.state == A.CONNECTED.value:
            return _connect_step(promise, attempt_id)
        if attempt.state == A.VOICEMAIL.value:
            return _voicemail_step(promise, now)
        if attempt.state != A.CALLER_RINGING.value:
            return _agent_gone_step(promise, now)
        if promise.state != S.DIALLING.value:
            return CallerStep("goodbye", language=lang)  # cancelled while the phone rang
        detected = classify_answered_by(attempt.answered_by)
        if detected is None and poll < MAX_HOLD_POLLS:
            return CallerStep("hold", language=lang)
        if detected is CallerResult.VOICEMAIL:
            _caller_not_reached(session, after, promise, attempt, now, CallerResult.VOICEMAIL, policy)
            return _voicemail_step(promise, now)
        attempt.state = A.CONNECTED.value
        attempt.stage_at = now
        attempt.answered_by = attempt.answered_by or "unknown"
        transition(promise, S.CONNECTED, now, f"caller answered attempt {attempt.number}")
        promise.agent_id = attempt.agent_id
        _agent_on_call(session, attempt.agent_id, now)
        session.add(
            Contact(
                caller_id=promise.caller_id,
                channel=ContactChannel.CALLBACK.value,
                call_sid=call_sid,
                intent_id=promise.intent_id,
                transcript=promise.problem,
                path=["callback"],
                outcome=ContactOutcome.AGENT.value,
                queue_id=promise.queue_id,
                agent_id=attempt.agent_id,
                started_at=now,
                routed_at=now,
            )
        )
        return _connect_step(promise, attempt_id)


def _connect_step(promise: CallbackPromise, attempt_id: int) -> CallerStep:
    problem = (promise.problem or "").strip()
    text = (
        t(promise.language, "cbd_caller_intro", problem=problem)
        if problem
        else t(promise.language, "cbd_caller_intro_plain")
    )
    return CallerStep("connect", text, promise.language, conference_name(attempt_id))


def _voicemail_step(promise: CallbackPromise, now: datetime) -> CallerStep:
    if promise.state == S.BOOKED.value and promise.next_attempt_at is not None:
        moment = format_moment(promise.next_attempt_at, promise.timezone, promise.language, now)
        return CallerStep("voicemail", t(promise.language, "cbd_voicemail", moment=moment), promise.language)
    return CallerStep("voicemail", t(promise.language, "cbd_voicemail_last"), promise.language)


def _agent_gone_step(promise: CallbackPromise, now: datetime) -> CallerStep:
    if promise.state == S.BOOKED.value and promise.next_attempt_at is not None:
        moment = format_moment(promise.next_attempt_at, promise.timezone, promise.language, now)
        return CallerStep("goodbye", t(promise.language, "cbd_caller_agent_gone", moment=moment), promise.language)
    return CallerStep("goodbye", t(promise.language, "cbd_voicemail_last"), promise.language)


def caller_detected(runtime: Runtime, attempt_id: int, call_sid: str, answered_by: str) -> None:
    """Async AMD's verdict for the caller's leg: kept for the leg's next request."""
    with runtime.db.session() as session:
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return
        attempt, _promise = locked
        _note_caller_sid(attempt, call_sid)
        if attempt.caller_call_sid == call_sid and attempt.answered_by is None:
            attempt.answered_by = answered_by[:24]


def caller_leg_ended(
    runtime: Runtime,
    attempt_id: int,
    call_sid: str,
    status: str,
    answered_by: str | None = None,
    policy: DialPolicy = DEFAULT_POLICY,
) -> str:
    """The caller's leg is over: complete a connected promise, or plan the next attempt."""
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return "unknown attempt"
        attempt, promise = locked
        _note_caller_sid(attempt, call_sid)
        if attempt.caller_call_sid != call_sid:
            return "other leg"
        if attempt.answered_by is None and answered_by:
            attempt.answered_by = answered_by[:24]
        if attempt.state == A.CONNECTED.value:
            attempt.state = A.COMPLETED.value
            attempt.ended_at = now
            attempt.result = "connected"
            transition(promise, S.COMPLETED, now, "call ended")
            contact = session.scalars(select(Contact).where(Contact.call_sid == call_sid)).first()
            if contact is not None:
                contact.ended_at = now
            return "completed"
        if attempt.state == A.CALLER_RINGING.value:
            _caller_not_reached(session, after, promise, attempt, now, caller_result_from_status(status), policy)
            return attempt.state
        return "nothing"


def _caller_not_reached(
    session: Session,
    after: AfterCommit,
    promise: CallbackPromise,
    attempt: CallbackAttempt,
    now: datetime,
    result: CallerResult,
    policy: DialPolicy,
) -> None:
    attempt.state = {
        CallerResult.VOICEMAIL: A.VOICEMAIL,
        CallerResult.BUSY: A.BUSY,
        CallerResult.NO_ANSWER: A.NO_ANSWER,
        CallerResult.FAILED: A.FAILED,
    }[result].value
    attempt.ended_at = now
    attempt.result = result.value
    attempt.stage_at = now
    _release_agent(session, attempt.agent_id, now)
    _release_agent_leg(after, attempt)
    session.flush()
    step = plan_after_caller(
        result,
        now=now,
        window_start=promise.window_start,
        window_end=promise.window_end,
        caller_tries=_caller_tries(session, promise.id),
        same_result_tries=_caller_tries(session, promise.id, attempt.state),
        policy=replace(policy, max_attempts=promise.max_attempts),  # the promise's own maximum
    )
    if isinstance(step, GiveUp):
        give_up(session, after, promise, now, step.reason)
        return
    _back_to_booked(after, promise, now, step.at, result.value)
    if result is CallerResult.VOICEMAIL:
        moment = format_moment(step.at, promise.timezone, promise.language, now)
        body = t(promise.language, "cbd_sms_next_attempt", moment=moment, number=display_number(promise.number))
        queue_sms(
            session, to=promise.number, body=body, purpose="next_attempt", now=now, promise_id=promise.id
        )


# --- recovery -----------------------------------------------------------------------------------------


def recover_stale_attempts(runtime: Runtime, policy: DialPolicy = DEFAULT_POLICY) -> list[int]:
    """Settle attempts nobody heard of for too long (a crashed worker, lost callbacks); return their ids."""
    now = runtime.clock.now()
    lost_before = now - policy.lost_leg_after
    with runtime.db.session() as session:
        rows = session.execute(
            select(CallbackAttempt.id, CallbackAttempt.state, CallbackAttempt.stage_at)
            .join(CallbackPromise, CallbackPromise.id == CallbackAttempt.promise_id)
            .where(
                CallbackPromise.state.in_([S.DIALLING.value, S.CONNECTED.value]),
                CallbackAttempt.state.in_(
                    [A.INTENDED.value, A.AGENT_RINGING.value, A.CALLER_RINGING.value, A.CONNECTED.value]
                ),
            )
        ).all()
    recovered = []
    for attempt_id, state, stage_at in rows:
        limit = now - policy.stale_connected_after if state == A.CONNECTED.value else lost_before
        if stage_at is not None and stage_at > limit:
            continue
        if _recover_attempt(runtime, attempt_id, policy):
            recovered.append(attempt_id)
    return recovered


def _recover_attempt(runtime: Runtime, attempt_id: int, policy: DialPolicy) -> bool:
    now = runtime.clock.now()
    with runtime.db.session() as session:
        attempt = session.get(CallbackAttempt, attempt_id)
        if attempt is None:
            return False
        state, agent_id = attempt.state, attempt.agent_id
        agent_sid, caller_sid, result = attempt.agent_call_sid, attempt.caller_call_sid, attempt.result
    if state == A.INTENDED.value:
        if agent_id is None:
            # The job that rings the next agent was lost (a flushed Redis): ring again.
            queue(runtime.redis, DIAL_QUEUE).enqueue("callbacks.jobs.ring_agent", attempt_id, 0)
            return True
        # Reserved but never heard of: the worker died before or while placing the agent leg.
        return _forget_lost_agent_leg(runtime, attempt_id, agent_id)
    if state == A.AGENT_RINGING.value and agent_sid and agent_id is not None:
        record = _fetch(runtime, agent_sid)
        if record is not None and is_final_status(record.status):
            agent_leg_ended(runtime, attempt_id, agent_id, agent_sid, record.status)
            return True
        return False
    if state == A.CALLER_RINGING.value:
        if caller_sid:
            record = _fetch(runtime, caller_sid)
            if record is not None and is_final_status(record.status):
                caller_leg_ended(runtime, attempt_id, caller_sid, record.status, record.answered_by, policy)
                return True
            return False
        if result is None:
            queue(runtime.redis, DIAL_QUEUE).enqueue("callbacks.jobs.dial_caller", attempt_id, 0)
            return True
        return _forget_lost_caller_leg(runtime, attempt_id, now)
    if state == A.CONNECTED.value and caller_sid:
        record = _fetch(runtime, caller_sid)
        if record is not None and is_final_status(record.status):
            caller_leg_ended(runtime, attempt_id, caller_sid, record.status, record.answered_by, policy)
            return True
    return False


def _fetch(runtime: Runtime, call_sid: str) -> Any:
    try:
        return runtime.telephony.fetch_call(call_sid)
    except TelephonyError as exc:
        log.info("call not fetched", call_sid=call_sid, error=str(exc))
        return None


def _forget_lost_agent_leg(runtime: Runtime, attempt_id: int, agent_id: int) -> bool:
    now = runtime.clock.now()
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return False
        attempt, _promise = locked
        if attempt.state != A.INTENDED.value or attempt.agent_id != agent_id or attempt.agent_call_sid:
            return False
        _release_agent(session, agent_id, now)
        attempt.agent_id = None
        attempt.stage_at = now
        _enqueue_after_commit(after, "callbacks.jobs.ring_agent", attempt_id, 0)
        return True


def _forget_lost_caller_leg(runtime: Runtime, attempt_id: int, now: datetime) -> bool:
    """A claimed caller leg with no SID and no news: never dial again for this attempt; plan the next one."""
    with _transaction(runtime) as (session, after):
        locked = _lock_attempt(session, attempt_id)
        if locked is None:
            return False
        attempt, promise = locked
        if attempt.state != A.CALLER_RINGING.value or attempt.caller_call_sid or attempt.result != CALLER_CLAIM:
            return False
        _fail_attempt(session, after, attempt, now, "caller leg lost")
        if now <= dial_deadline(promise.window_start, promise.window_end):
            _back_to_booked(after, promise, now, now, "caller leg lost")
        else:
            give_up(session, after, promise, now, "caller leg lost after the window")
        return True


def promise_timeline(
    session: Session, promise_id: int
) -> tuple[PromiseTimeline, list[tuple[int, str, str | None]]] | None:
    """How a promise was kept: planned, first dial, connected, lateness; and each attempt's state and result."""
    promise = session.get(CallbackPromise, promise_id)
    if promise is None:
        return None
    timeline = PromiseTimeline(
        planned_dial_at=promise.planned_dial_at,
        first_dial_at=promise.first_dial_at,
        connected_at=promise.connected_at,
        window_start=promise.window_start,
        window_end=promise.window_end,
        attempts=promise.attempts,
    )
    return timeline, [(a.number, a.state, a.result) for a in promise.attempt_records]
