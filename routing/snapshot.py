"""What routing decides over: the snapshot of plain facts it reads, and the decision it returns.

routing/route.py builds the snapshot from the database (routing/live_state.py, routing/history.py
give their parts); routing/decision.py evaluates it, purely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from routing.phrases import Phrase
from terugbel.settings import DEFAULT_PREFERRED_AGENT_WAIT_SECONDS

DEFAULT_PREFERRED_WAIT_SECONDS = DEFAULT_PREFERRED_AGENT_WAIT_SECONDS  # TERUGBEL_PREFERRED_AGENT_WAIT_SECONDS sets it


@dataclass(frozen=True)
class Decision:
    queue_id: int
    queue_name: str
    preferred_agent_id: int | None
    priority: int
    wait_estimate_seconds: int
    queue_open: bool
    offer_callback_first: bool
    announcement: dict[str, str] | None
    explanation: str  # the English text of explanation_parts (the API's and the stored contact's)
    rule_name: str | None  # the rule that decided where the contact goes; None: built-in behaviour
    repeat_count: int
    # How long the caller waits for the preferred agent before any agent of the queue may take them.
    preferred_wait_seconds: int = 0
    matched_rules: tuple[str, ...] = ()
    skipped_rules: tuple[str, ...] = ()  # rules naming a queue or agent that no longer exists
    explanation_parts: tuple[Phrase, ...] = ()  # the explanation as phrases, for the console's languages


@dataclass(frozen=True)
class QueueFacts:
    id: int
    name: str
    skill: str
    open: bool
    wait_estimate_seconds: int
    wait_threshold_seconds: int = 120
    overflow_queue: str | None = None  # name of the overflow queue
    label: str = ""


@dataclass(frozen=True)
class AgentFacts:
    id: int
    name: str
    skills: frozenset[str]
    state: str  # routing.models.AgentState value
    on_shift: bool


@dataclass(frozen=True)
class CallerFacts:
    caller_id: int | None = None
    number: str | None = None  # E.164
    region: str | None = None  # ISO region of the number (NL, GB…)
    vip: bool = False
    has_open_promise: bool = False
    incident_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class HistoryFacts:
    repeat_count: int = 0  # earlier contacts in the window about the same intent or unresolved
    last_agent_id: int | None = None  # who handled the last of those
    last_queue: str | None = None  # the team that handled it
    has_unresolved: bool = False
    window_days: int = 7


@dataclass(frozen=True)
class RoutingSnapshot:
    now: datetime
    zone: str  # the contact center's zone, for day/time windows
    language: str
    intent: str | None
    default_queue: str  # where the intent goes without rules (or the general queue)
    queues: Mapping[str, QueueFacts]
    agents: Mapping[int, AgentFacts]  # active agents, on shift or not
    caller: CallerFacts = field(default_factory=CallerFacts)
    history: HistoryFacts = field(default_factory=HistoryFacts)
    preferred_wait_seconds: int = DEFAULT_PREFERRED_WAIT_SECONDS


class NoQueues(ValueError):
    """There is no queue at all to route to."""
