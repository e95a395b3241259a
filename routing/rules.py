"""Routing rules that supervisors edit: validated structured data, never code.

A rule set is an ordered JSON list of rules. Each rule has a `name`, `conditions` (all must hold)
and `actions`:

    {"name": "Opzeggers naar retentie",
     "conditions": {"intent_in": ["opzeggen"]},
     "actions": {"route_to_queue": "retentie", "raise_priority": 1, "stop": true}}

Conditions: always (true), intent_in, language, vip, repeat_count_at_least, has_open_promise,
matches_incident, number_prefix, region, day_time ({weekdays, from, to} in local time),
wait_estimate_above_seconds (seconds for the queue chosen so far, or {queue, seconds}),
queue_open / queue_closed (a queue name, or true for the queue chosen so far).
Actions: route_to_queue, route_to_agent (agent id), set_priority, raise_priority,
offer_callback_first, announce ({nl, en}), stop.

This module holds the parsed form and the errors; `routing.rule_parsing` turns the JSON into it
(and back), `routing.rule_validation` also checks references and rules that can never match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any

from routing.phrases import Phrase

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGUAGES = ("nl", "en")
CONDITION_KEYS = (
    "always",
    "intent_in",
    "language",
    "vip",
    "repeat_count_at_least",
    "has_open_promise",
    "matches_incident",
    "number_prefix",
    "region",
    "day_time",
    "wait_estimate_above_seconds",
    "queue_open",
    "queue_closed",
)
ACTION_KEYS = (
    "route_to_queue",
    "route_to_agent",
    "set_priority",
    "raise_priority",
    "offer_callback_first",
    "announce",
    "stop",
)
RULE_KEYS = ("name", "enabled", "conditions", "actions")
MAX_PRIORITY = 100


@dataclass(frozen=True)
class RuleError:
    """One reason a rule set is refused, naming the rule and the field."""

    rule_index: int | None  # 0-based position in the list; None: about the set as a whole
    rule_name: str | None
    field: str  # e.g. "actions.route_to_queue"
    message: str  # English, as the API says it
    phrase: Phrase  # the message as a phrase, for the console's languages

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_index": self.rule_index,
            "rule_name": self.rule_name,
            "field": self.field,
            "message": self.message,
        }


class InvalidRuleSet(ValueError):
    """The rule set does not validate; `errors` says where and why."""

    def __init__(self, errors: Sequence[RuleError]) -> None:
        first = errors[0] if errors else None
        summary = f"{first.field}: {first.message}" if first else "invalid rule set"
        super().__init__(f"{len(errors)} error(s) in the rule set, first: {summary}")
        self.errors = list(errors)


@dataclass(frozen=True)
class QueueRef:
    """A queue named in a condition; name None means the queue chosen so far in the evaluation."""

    name: str | None = None


@dataclass(frozen=True)
class DayTimeWindow:
    """Weekdays (0 = Monday) and a local time window [start, end)."""

    weekdays: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class WaitAbove:
    queue: QueueRef
    seconds: int


@dataclass(frozen=True)
class Conditions:
    always: bool = False
    intent_in: frozenset[str] | None = None
    language: str | None = None
    vip: bool | None = None
    repeat_count_at_least: int | None = None
    has_open_promise: bool | None = None
    matches_incident: bool | None = None
    number_prefix: tuple[str, ...] | None = None
    region: frozenset[str] | None = None
    day_time: DayTimeWindow | None = None
    wait_estimate_above_seconds: WaitAbove | None = None
    queue_open: QueueRef | None = None
    queue_closed: QueueRef | None = None


@dataclass(frozen=True)
class Actions:
    route_to_queue: str | None = None
    route_to_agent: int | None = None
    set_priority: int | None = None
    raise_priority: int | None = None
    offer_callback_first: bool | None = None
    announce: Mapping[str, str] | None = None
    stop: bool = False


@dataclass(frozen=True)
class Rule:
    name: str
    conditions: Conditions
    actions: Actions
    enabled: bool = True


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    version: int | None = None

