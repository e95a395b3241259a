"""One call while it runs: its party, the clock, interruptions, status callbacks and webhook parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import phonenumbers

from telephony.simulator.parties import Party, Reply, ReplyQueue
from telephony.simulator.records import API_VERSION, SIMULATOR_NOTE, LogEntry, SimCall, rfc2822
from telephony.simulator.scheduler import Process, wait_for
from telephony.simulator.transcript import CallTranscript, Speaker

if TYPE_CHECKING:
    from telephony.simulator.engine import Engine

APPLICATION_ERROR_MESSAGE = "We are sorry, an application error has occurred. Goodbye."


class CallOver(Exception):
    """The call ends now: `status` is its final status, `by` who ended it."""

    def __init__(self, status: str = "completed", by: str = "system") -> None:
        super().__init__(f"{status} by {by}")
        self.status = status
        self.by = by


@dataclass
class Next:
    """Where the call's instructions come from next: a URL to request, or inline TwiML."""

    url: str | None = None
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)
    twiml: str | None = None


class Redirected(Exception):
    """The REST API (or a wait document) gave the call new instructions."""

    def __init__(self, next_: Next, queue_result: str = "redirected") -> None:
        super().__init__(next_.url or "inline TwiML")
        self.next = next_
        self.queue_result = queue_result


class Interrupt(Exception):
    """Something outside the current verb happened (bridged from a queue, asked to leave it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def country_of(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except phonenumbers.NumberParseException:
        return ""


class CallRun:
    """Execution state of one call; all time passes through `pass_time` so hang-ups interrupt it."""

    def __init__(self, engine: Engine, call: SimCall, party: Party) -> None:
        self.engine = engine
        self.call = call
        self.party = party
        replies = party.replies
        if party.whisper_key:
            replies = (Reply(press=party.whisper_key, after_seconds=1.0), *replies)
        self.replies = ReplyQueue(replies)
        self.speaker: Speaker = "agent" if party.role == "agent" else "caller"
        self.document_url: str | None = None
        self.last_heard = ""
        self.hangup_at: datetime | None = None  # when the party hangs up
        self.time_limit_at: datetime | None = None  # when the network ends the call (TimeLimit)
        self.answered = False
        self.last_fetch_at: datetime | None = None
        self.instant_fetches = 0  # documents fetched at the same simulated instant, in a row
        self.hung_up = False  # the party hung up during a verb that still reports (Dial, Record)
        self.in_queue = False  # waiting in an <Enqueue>: <Leave> applies
        self.extra_params: dict[str, str] = {}
        self.interrupts: list[Callable[[], str | None]] = []  # checked whenever time passes
        self._held_callbacks: list[tuple[str, dict[str, str], str]] = []
        if call.transcript is None:
            call.transcript = CallTranscript(call.sid, call.from_, call.to, call.direction)
        self.transcript: CallTranscript = call.transcript

    # --- time -----------------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self.engine.clock.now()

    def pass_time(self, seconds: float) -> Process:
        """Let time pass on this call; stop early (raising) when the party hangs up or the API steps in."""
        self.check_interrupts()
        deadline = self.now + timedelta(seconds=max(seconds, 0))
        while self.now < deadline:
            limit = min(m for m in (deadline, self.hangup_at, self.time_limit_at) if m is not None)
            timeout = max((limit - self.now).total_seconds(), 0)
            yield from wait_for(self._interrupted, timeout)
            self.check_interrupts()
            if self.now >= limit and limit == deadline:
                break

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> Process:
        """Wait for `predicate`, interruptible like `pass_time`; returns whether it held."""
        deadline = self.now + timedelta(seconds=timeout) if timeout is not None else None
        while True:
            self.check_interrupts()
            if predicate():
                return True
            limits = [m for m in (deadline, self.hangup_at, self.time_limit_at) if m is not None]
            remaining = max((min(limits) - self.now).total_seconds(), 0) if limits else None
            if deadline is not None and self.now >= deadline:
                return False
            yield from wait_for(lambda: predicate() or self._interrupted(), remaining)

    def _interrupted(self) -> bool:
        if self.call.pending_update is not None:
            return True
        if self.hangup_at is not None and self.now >= self.hangup_at:
            return True
        if self.time_limit_at is not None and self.now >= self.time_limit_at:
            return True
        return any(check() for check in self.interrupts)

    def check_interrupts(self) -> None:
        update = self.call.pending_update
        if update is not None:
            self.call.pending_update = None
            if "status" in update:
                self.log(SIMULATOR_NOTE, "info", f"call ended through the REST API ({update['status']})")
                raise CallOver("completed" if self.answered else "canceled", by="api")
            raise Redirected(Next(url=update.get("url"), method=update.get("method", "POST"),
                                  twiml=update.get("twiml")))
        if self.hangup_at is not None and self.now >= self.hangup_at:
            self.say_turn(self.speaker, "(hangs up)", "Hangup")
            raise CallOver("completed", by=self.speaker)
        if self.time_limit_at is not None and self.now >= self.time_limit_at:
            self.log(SIMULATOR_NOTE, "info", "the call reached its TimeLimit")
            raise CallOver("completed", by="system")
        for check in self.interrupts:
            reason = check()
            if reason:
                raise Interrupt(reason)

    def party_hangs_up_in(self, seconds: float | None) -> None:
        if seconds is None:
            return
        moment = self.now + timedelta(seconds=seconds)
        self.hangup_at = moment if self.hangup_at is None else min(self.hangup_at, moment)

    # --- transcript and log ---------------------------------------------------------------------
    def say_turn(self, who: Speaker, what: str, verb: str) -> None:
        self.transcript.add(self.now, who, what, verb)

    def log(self, code: int, level: str, message: str, url: str | None = None) -> None:
        self.call.log.append(LogEntry(self.now, code, level, message, url))
        if level == "error":
            self.transcript.errors.append({"code": code, "message": message, "url": url or ""})

    # --- webhooks -------------------------------------------------------------------------------
    def resolve(self, url: str) -> str:
        return urljoin(self.document_url or "", url) if self.document_url else url

    def base_params(self) -> dict[str, str]:
        call = self.call
        params = {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Direction": call.direction,
            "From": call.from_,
            "To": call.to,
            "Caller": call.from_,
            "Called": call.to,
            "FromCountry": country_of(call.from_),
            "ToCountry": country_of(call.to),
            "CallerCountry": country_of(call.from_),
            "CalledCountry": country_of(call.to),
        }
        if call.parent_call_sid:
            params["ParentCallSid"] = call.parent_call_sid
        if call.answered_by and not call.async_amd:
            params["AnsweredBy"] = call.answered_by
        params.update(self.extra_params)
        return params

    def status_event(self, event: str) -> None:
        """Send the status callback for `event` when the call asked for it."""
        call = self.call
        if not call.status_callback or event not in call.status_callback_events:
            return
        params = self.base_params()
        params["CallStatus"] = "initiated" if event == "initiated" else call.status
        params.update(SequenceNumber=str(call.sequence_number), Timestamp=rfc2822(self.now) or "",
                      CallbackSource="call-progress-events")
        call.sequence_number += 1
        if event == "completed":
            duration = call.duration_seconds or 0
            params["CallDuration"] = str(duration)
            params["Duration"] = str(-(-duration // 60))
        if call.answered_by:
            params["AnsweredBy"] = call.answered_by
        mode = self.engine.network.status_callback_delivery
        if mode == "reversed":
            self._held_callbacks.append((call.status_callback, params, call.status_callback_method))
            if event == "completed":
                for url, held, method in reversed(self._held_callbacks):
                    self.notify(url, held, method)
                self._held_callbacks.clear()
            return
        for _ in range(2 if mode == "duplicate" else 1):
            self.notify(call.status_callback, params, call.status_callback_method)

    def next_reply(self) -> Reply | None:
        return None if self.party.is_machine else self.replies.next_for(self.last_heard)

    def record_request(self, url: str, method: str, status: Any) -> None:
        self.transcript.requests.append({"url": url, "method": method, "status": str(status)})

    def notify(self, url: str, params: dict[str, str], method: str = "POST") -> None:
        """A request whose answer Twilio does not play (status callbacks, actions after a hang-up)."""
        result = self.engine.webhooks.request(url, params, method)
        self.record_request(url, method, result.status)
