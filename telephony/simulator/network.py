"""The simulated phone network's state: calls, messages, queues, conferences, parties, rate limits.

The REST API (another thread) and the call engine (the scheduler's thread) share it under one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telephony.simulator.faults import FaultPlan
from telephony.simulator.parties import PartyBook
from telephony.simulator.records import SimCall, SimMessage, new_sid
from telephony.simulator.scheduler import Process, Scheduler
from terugbel.clock import Clock

DeliveryMode = str  # "normal", "duplicate" (each callback twice), "reversed" (held, then sent newest first)


@dataclass
class QueueMember:
    call_sid: str
    joined_at: datetime
    bridged_with: str | None = None
    result: str | None = None  # set when the member leaves: bridged, leave, hangup, redirected...
    left_at: datetime | None = None
    # Set by the dequeuing call: the <Queue url> the member hears before the bridge (a callrun.Next).
    connect: object | None = None
    ready: bool = False  # the member has heard it and is connected


@dataclass
class SimQueue:
    name: str
    sid: str
    members: list[QueueMember] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)  # seconds waited by members who left

    def average_wait(self) -> int:
        return int(sum(self.waits) / len(self.waits)) if self.waits else 0


@dataclass
class Conference:
    name: str
    sid: str
    participants: list[str] = field(default_factory=list)  # call sids
    started: bool = False
    ended: bool = False
    starters: int = 0  # participants present with startConferenceOnEnter


@dataclass
class Bridge:
    """Two calls talking to each other, until one side hangs up."""

    a: str
    b: str
    started_at: datetime
    ended_at: datetime | None = None
    ended_by: str | None = None


class Network:
    def __init__(self, *, account_sid: str, auth_token: str, clock: Clock, calls_per_second: float = 1.0,
                 webhook_timeout_seconds: float = 15.0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.clock = clock
        self.scheduler = Scheduler(clock)
        self.parties = PartyBook()
        self.faults = FaultPlan()
        self.calls_per_second = calls_per_second
        self.webhook_timeout_seconds = webhook_timeout_seconds
        self.status_callback_delivery: DeliveryMode = "normal"
        self.lock = threading.RLock()
        self.calls: dict[str, SimCall] = {}
        self.messages: list[SimMessage] = []
        self.queues: dict[str, SimQueue] = {}
        self.conferences: dict[str, Conference] = {}
        self.bridges: list[Bridge] = []
        self.blocked_numbers: set[str] = set()  # numbers that texted STOP: error 21610
        # Texts to these numbers are accepted, then end undelivered with this error (30003 unreachable...).
        self.undeliverable: dict[str, int] = {}
        self._next_start: datetime | None = None
        # Set by the engine module: turns a call into the process that runs it.
        self.run_outbound: Callable[[SimCall], Process] | None = None
        self.on_message: Callable[[SimMessage], None] | None = None
        # Called with each call that has just ended (on the thread that runs calls: they must not block).
        self.call_ended_listeners: list[Callable[[SimCall], None]] = []

    # --- calls -------------------------------------------------------------------------------
    def add_call(self, call: SimCall) -> SimCall:
        with self.lock:
            self.calls[call.sid] = call
        return call

    def get_call(self, sid: str) -> SimCall | None:
        with self.lock:
            return self.calls.get(sid)

    def list_calls(self) -> list[SimCall]:
        with self.lock:
            return sorted(self.calls.values(), key=lambda c: c.date_created, reverse=True)

    def start_slot(self) -> datetime:
        """When a call created now may start: Twilio queues calls above the account's CPS."""
        now = self.clock.now()
        with self.lock:
            start = max(now, self._next_start or now)
            self._next_start = start + timedelta(seconds=1 / self.calls_per_second)
            return start

    def launch_outbound(self, call: SimCall) -> None:
        """Queue an API-created call; it starts at its CPS slot."""
        call.start_at = self.start_slot()
        self.add_call(call)
        if self.run_outbound is None:
            raise RuntimeError("no call engine attached to the network")
        self.scheduler.spawn(self.run_outbound(call), name=call.sid, at=call.start_at)

    def request_update(self, call: SimCall, update: dict[str, str]) -> None:
        with self.lock:
            call.pending_update = update
            call.date_updated = self.clock.now()

    # --- messages ----------------------------------------------------------------------------
    def add_message(self, message: SimMessage) -> SimMessage:
        with self.lock:
            self.messages.append(message)
        if self.on_message is not None:
            self.on_message(message)
        return message

    def sent_messages(self) -> list[SimMessage]:
        with self.lock:
            return [m for m in self.messages if m.direction != "inbound"]

    # --- queues and conferences ---------------------------------------------------------------
    def queue(self, name: str) -> SimQueue:
        with self.lock:
            if name not in self.queues:
                self.queues[name] = SimQueue(name=name, sid=new_sid("QU"))
            return self.queues[name]

    def conference(self, name: str) -> Conference:
        with self.lock:
            if name not in self.conferences or self.conferences[name].ended:
                self.conferences[name] = Conference(name=name, sid=new_sid("CF"))
            return self.conferences[name]

    def bridge(self, a: str, b: str) -> Bridge:
        with self.lock:
            bridge = Bridge(a=a, b=b, started_at=self.clock.now())
            self.bridges.append(bridge)
            return bridge

    def bridge_of(self, sid: str) -> Bridge | None:
        with self.lock:
            for bridge in reversed(self.bridges):
                if bridge.ended_at is None and sid in (bridge.a, bridge.b):
                    return bridge
            return None
