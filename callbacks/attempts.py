"""Pure decisions of a callback attempt: what a call result means and what happens next.

Agent first, then the caller with answering-machine detection. The window is a hard edge: an
attempt starts no later than `last_dial_start`, early enough that the agent's ring, the whisper, the
caller's ring and the voicemail detection all fit before the window ends, with time left to text the
caller. Each caller result has its own retry spacing (operator settings, `dial_policy`), bounded by
that moment; a promise that can no longer be kept is given up while the caller can still be told.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from terugbel.clock import ensure_utc
from terugbel.settings import Settings


class CallerResult(enum.StrEnum):
    """How the caller's leg of one attempt ended."""

    HUMAN = "human"  # answered by a person: connected to the agent
    VOICEMAIL = "voicemail"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


_DEFAULT_SPACING = MappingProxyType(
    {
        CallerResult.VOICEMAIL: timedelta(minutes=4),
        CallerResult.BUSY: timedelta(minutes=3),
        CallerResult.NO_ANSWER: timedelta(minutes=4),
        CallerResult.FAILED: timedelta(minutes=2),
    }
)


@dataclass(frozen=True)
class DialPolicy:
    """How hard we try: attempts, spacing per result, ring times, back-off, recovery delays."""

    max_attempts: int = 3  # caller legs per promise
    retry_spacing: Mapping[CallerResult, timedelta] = field(default_factory=lambda: _DEFAULT_SPACING)
    # Tries ending in one result before we stop trying (e.g. a number that always fails); none: no own limit.
    max_per_result: Mapping[CallerResult, int] = field(default_factory=dict)
    agent_ring_seconds: int = 20
    # The whisper and its keys, twice (webhooks/twiml.py agent_whisper_choice), before the caller is dialled.
    whisper_seconds: int = 30
    caller_ring_seconds: int = 30
    # Answering-machine detection after the caller picks up (callbacks/caller_leg.py MAX_HOLD_POLLS).
    detection_seconds: int = 45
    # Never a retry sooner than this after the last leg ended: no phone rung twice in a breath.
    min_retry_gap: timedelta = timedelta(minutes=1)
    # No agent free: look again this often, as long as the caller can still be told in the window.
    no_agent_retry: timedelta = timedelta(minutes=1)
    # Time the caller needs the SMS before the window ends: we give up no later than this.
    notice_before_end: timedelta = timedelta(minutes=1)
    # A dial is planned at least this long before the last moment it may start: a job that runs a
    # little late (a busy worker, the scheduler's poll) still starts in time.
    scheduling_margin: timedelta = timedelta(seconds=30)

    @property
    def attempt_length(self) -> timedelta:
        """The longest one attempt takes until we know it failed: agent ring, whisper, caller ring, detection."""
        seconds = self.agent_ring_seconds + self.whisper_seconds + self.caller_ring_seconds + self.detection_seconds
        return timedelta(seconds=seconds)

    # Twilio 429/5xx: first wait, doubled per failure up to the maximum.
    backoff_first: timedelta = timedelta(seconds=2)
    backoff_max: timedelta = timedelta(seconds=60)
    # A leg we intended to place but heard nothing of after this long is treated as lost.
    lost_leg_after: timedelta = timedelta(minutes=2)
    # A connected call we heard no end of after this long is asked about (fetch by its SID).
    stale_connected_after: timedelta = timedelta(hours=2)
    # How far ahead the reconciler makes sure every open promise has its job.
    reconcile_horizon: timedelta = timedelta(minutes=15)
    # A job that runs this much before its due time (a clock skew) is put back.
    early_tolerance: timedelta = timedelta(seconds=2)


DEFAULT_POLICY = DialPolicy()


@dataclass(frozen=True)
class Retry:
    """Try again (a new attempt) at `at`."""

    at: datetime


@dataclass(frozen=True)
class GiveUp:
    """The promise cannot be kept in its window: tell the caller a new time now."""

    reason: str


NextStep = Retry | GiveUp


def dial_policy(settings: Settings) -> DialPolicy:
    """The policy with the operator's retry spacing per result (TERUGBEL_RETRY_*_SECONDS)."""
    spacing = {
        CallerResult.BUSY: settings.retry_busy_seconds,
        CallerResult.NO_ANSWER: settings.retry_no_answer_seconds,
        CallerResult.VOICEMAIL: settings.retry_machine_seconds,
        CallerResult.FAILED: settings.retry_failed_seconds,
    }
    return DialPolicy(retry_spacing=MappingProxyType({r: timedelta(seconds=s) for r, s in spacing.items()}))


def last_dial_start(window_start: datetime, window_end: datetime, policy: DialPolicy = DEFAULT_POLICY) -> datetime:
    """The last moment an attempt may start: it is over, and the caller told if it failed, before the end.

    In a window shorter than an attempt that is its start: one attempt, made as early as it can be.
    """
    start, end = ensure_utc(window_start), ensure_utc(window_end)
    return max(end - policy.attempt_length - policy.notice_before_end, start)


def last_planned_dial(window_start: datetime, window_end: datetime, policy: DialPolicy = DEFAULT_POLICY) -> datetime:
    """The latest moment a dial is planned for: the last start less the scheduling margin, never before the window."""
    return max(last_dial_start(window_start, window_end, policy) - policy.scheduling_margin, ensure_utc(window_start))


def classify_answered_by(answered_by: str | None) -> CallerResult | None:
    """Return HUMAN or VOICEMAIL for Twilio's AnsweredBy, None while detection has not finished.

    "unknown" counts as a person: a real caller must never get our voicemail message instead of the agent.
    """
    if answered_by is None or answered_by == "":
        return None
    if answered_by.startswith("machine") or answered_by == "fax":
        return CallerResult.VOICEMAIL
    return CallerResult.HUMAN


def caller_result_from_status(call_status: str) -> CallerResult:
    """Map the final CallStatus of an unconnected caller leg to its result."""
    if call_status == "busy":
        return CallerResult.BUSY
    if call_status == "failed":
        return CallerResult.FAILED
    # no-answer, canceled, or answered and hung up before we could say anything.
    return CallerResult.NO_ANSWER


def plan_after_caller(
    result: CallerResult,
    *,
    now: datetime,
    window_start: datetime,
    window_end: datetime,
    caller_tries: int,
    same_result_tries: int = 1,
    policy: DialPolicy = DEFAULT_POLICY,
) -> NextStep:
    """After a caller leg that did not connect: the next attempt's time, or give up.

    `caller_tries` counts every caller leg so far, `same_result_tries` those that ended like this one.
    """
    if caller_tries >= policy.max_attempts:
        return GiveUp(f"{caller_tries} attempts without reaching the caller (last: {result.value})")
    limit = policy.max_per_result.get(result)
    if limit is not None and same_result_tries >= limit:
        return GiveUp(f"{same_result_tries} attempts ended {result.value}")
    # The spacing is bounded by the window: a retry that would come too late comes at the last planned moment.
    last = last_planned_dial(window_start, window_end, policy)
    at = min(max(ensure_utc(now) + policy.retry_spacing[result], ensure_utc(window_start)), last)
    if at < ensure_utc(now) + policy.min_retry_gap:
        return GiveUp(f"no time left in the window after {result.value}")
    return Retry(at)


def plan_without_agent(
    *, now: datetime, window_start: datetime, window_end: datetime, policy: DialPolicy = DEFAULT_POLICY
) -> NextStep:
    """No agent took the call: look again shortly (at the last planned moment at the latest), or give up
    while the caller can still be told in time."""
    at = min(ensure_utc(now) + policy.no_agent_retry, last_planned_dial(window_start, window_end, policy))
    if at <= ensure_utc(now):
        return GiveUp("no agent free before the end of the window")
    return Retry(at)


def plan_after_network_error(
    *,
    now: datetime,
    failures: int,
    window_start: datetime,
    window_end: datetime,
    policy: DialPolicy = DEFAULT_POLICY,
) -> NextStep:
    """Twilio said 429 or 5xx: back off (doubling), as long as the leg still fits in the window."""
    at = ensure_utc(now) + backoff(failures, policy)
    if at > last_dial_start(window_start, window_end, policy):
        return GiveUp(f"the phone network refused {failures} times until the window passed")
    return Retry(at)


def backoff(failures: int, policy: DialPolicy = DEFAULT_POLICY) -> timedelta:
    """The wait after the `failures`-th consecutive refusal: 2 s, 4 s, 8 s… up to the maximum."""
    step = policy.backoff_first * (2 ** max(failures - 1, 0))
    return min(step, policy.backoff_max)


def is_due(due_at: datetime, now: datetime, policy: DialPolicy = DEFAULT_POLICY) -> bool:
    """Whether a dial planned for `due_at` may start at `now` (allowing a small clock skew)."""
    return ensure_utc(due_at) - policy.early_tolerance <= ensure_utc(now)


@dataclass(frozen=True)
class PromiseTimeline:
    """What a promise records about how it was kept."""

    planned_dial_at: datetime
    first_dial_at: datetime | None
    connected_at: datetime | None
    window_start: datetime
    window_end: datetime
    attempts: int

    @property
    def lateness(self) -> timedelta | None:
        """First dial against the planned dial time (negative: early)."""
        return None if self.first_dial_at is None else self.first_dial_at - self.planned_dial_at

    @property
    def lateness_against_window(self) -> timedelta | None:
        """How far after the window's end the first dial came (zero when inside it)."""
        if self.first_dial_at is None:
            return None
        return max(self.first_dial_at - self.window_end, timedelta(0))

    @property
    def dialled_in_window(self) -> bool:
        return self.first_dial_at is not None and self.window_start <= self.first_dial_at <= self.window_end
