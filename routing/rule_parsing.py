"""Supervisors' rule sets from their JSON form into `routing.rules` types, and back.

Parsing refuses malformed data with a `RuleError` per field, naming the rule; references to queues,
agents and intents are `routing.rule_validation`'s to check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from typing import Any

import phonenumbers

from routing.phrases import Phrase, PhraseValue, phrase
from routing.rules import (
    ACTION_KEYS,
    CONDITION_KEYS,
    LANGUAGES,
    MAX_PRIORITY,
    RULE_KEYS,
    WEEKDAY_NAMES,
    Actions,
    Conditions,
    DayTimeWindow,
    InvalidRuleSet,
    QueueRef,
    Rule,
    RuleError,
    RuleSet,
    WaitAbove,
)

_PREFIX = re.compile(r"^\+\d{1,14}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass
class ErrorCollector:
    """Gathers the errors of a rule set, each naming the rule being read."""

    errors: list[RuleError] = field(default_factory=list)
    index: int | None = None
    name: str | None = None

    def add(self, field_name: str, template: str, **values: PhraseValue) -> None:
        """An error of the JSON's form: `template` is its English sentence, {name} for each value."""
        self.add_phrase(field_name, phrase(template, **values))

    def add_phrase(self, field_name: str, said: Phrase) -> None:
        """An error the console says in the user's language; the API gets its English text."""
        self.errors.append(RuleError(self.index, self.name, field_name, said.render(), said))


def parse_rule_set(raw: Any, *, version: int | None = None) -> RuleSet:
    """Parse the JSON form into a RuleSet; raise InvalidRuleSet naming every malformed field."""
    rule_set, errors = parse_with_errors(raw, version)
    if errors:
        raise InvalidRuleSet(errors)
    return rule_set


def rule_set_to_json(rule_set: RuleSet) -> list[dict[str, Any]]:
    """The JSON form of a parsed rule set (what is stored and what the API shows)."""
    return [_rule_to_json(rule) for rule in rule_set.rules]


def parse_with_errors(raw: Any, version: int | None = None) -> tuple[RuleSet, list[RuleError]]:
    """The rules that parse, and every error of those that do not."""
    found = ErrorCollector()
    if not isinstance(raw, list):
        found.add("rules", "must be a list of rules")
        return RuleSet(), found.errors
    rules: list[Rule] = []
    seen_names: dict[str, int] = {}
    for index, item in enumerate(raw):
        found.index = index
        name = item.get("name") if isinstance(item, dict) else None
        found.name = name if isinstance(name, str) else None
        rule = _parse_rule(item, found)
        if rule is None:
            continue
        if rule.name in seen_names:
            found.add("name", "the name is already used by rule {position}", position=seen_names[rule.name] + 1)
        seen_names.setdefault(rule.name, index)
        rules.append(rule)
    return RuleSet(rules=tuple(rules), version=version), found.errors


def _parse_rule(item: Any, found: ErrorCollector) -> Rule | None:
    if not isinstance(item, dict):
        found.add("rule", "must be an object with name, conditions and actions")
        return None
    before = len(found.errors)
    for key in item:
        if key not in RULE_KEYS:
            found.add(str(key), "unknown field (expected one of {fields})", fields=", ".join(RULE_KEYS))
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        found.add("name", "a rule needs a name")
        name = ""
    elif len(name) > 120:
        found.add("name", "at most 120 characters")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        found.add("enabled", "must be true or false")
    conditions = _parse_conditions(item.get("conditions"), found)
    actions = _parse_actions(item.get("actions"), found)
    if len(found.errors) > before or conditions is None or actions is None:
        return None
    return Rule(name=name.strip(), conditions=conditions, actions=actions, enabled=bool(enabled))


def _parse_conditions(raw: Any, found: ErrorCollector) -> Conditions | None:
    if not isinstance(raw, dict) or not raw:
        found.add("conditions", 'a rule needs at least one condition (use {{"always": true}} for every call)')
        return None
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"conditions.{key}"
        if key not in CONDITION_KEYS:
            found.add(where, "unknown condition (expected one of {fields})", fields=", ".join(CONDITION_KEYS))
            continue
        parsed = _parse_condition(key, value, where, found)
        if parsed is not None:
            values[key] = parsed
    if values.get("always") and len(raw) > 1:
        found.add("conditions.always", "always cannot be combined with other conditions")
    if "queue_open" in values and values.get("queue_open") == values.get("queue_closed"):
        found.add("conditions.queue_closed", "contradicts queue_open on the same queue: never both")
    if len(values) != len(raw):
        return None
    return Conditions(**values)


def _parse_condition(key: str, value: Any, where: str, found: ErrorCollector) -> Any:
    if key == "always":
        if value is not True:
            found.add(where, "must be true (leave it out otherwise)")
            return None
        return True
    if key in ("vip", "has_open_promise", "matches_incident"):
        if not isinstance(value, bool):
            found.add(where, "must be true or false")
            return None
        return value
    if key == "intent_in":
        names = _string_list(value, where, found)
        return frozenset(names) if names is not None else None
    if key == "language":
        if value not in LANGUAGES:
            found.add(where, "must be one of {choices}", choices=", ".join(LANGUAGES))
            return None
        return value
    if key == "repeat_count_at_least":
        return _int(value, where, found, low=1, high=1000)
    if key == "number_prefix":
        prefixes = _string_list(value, where, found)
        if prefixes is None:
            return None
        bad = [p for p in prefixes if not _PREFIX.match(p)]
        if bad:
            found.add(where, "not an international prefix like +3130: {values}", values=", ".join(bad))
            return None
        return tuple(prefixes)
    if key == "region":
        regions = _string_list(value, where, found)
        if regions is None:
            return None
        upper = [r.upper() for r in regions]
        bad = [r for r in upper if r not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            found.add(where, "unknown region code: {values}", values=", ".join(bad))
            return None
        return frozenset(upper)
    if key == "day_time":
        return _parse_window(value, where, found)
    if key == "wait_estimate_above_seconds":
        if isinstance(value, dict):
            extra = set(value) - {"queue", "seconds"}
            if extra:
                found.add(where, "unknown field(s): {fields}", fields=", ".join(sorted(extra)))
                return None
            queue = _queue_ref(value.get("queue", True), f"{where}.queue", found)
            seconds = _int(value.get("seconds"), f"{where}.seconds", found, low=0, high=86_400)
            if queue is None or seconds is None:
                return None
            return WaitAbove(queue=queue, seconds=seconds)
        seconds = _int(value, where, found, low=0, high=86_400)
        return WaitAbove(queue=QueueRef(None), seconds=seconds) if seconds is not None else None
    # queue_open, queue_closed
    return _queue_ref(value, where, found)


def _parse_window(value: Any, where: str, found: ErrorCollector) -> DayTimeWindow | None:
    if not isinstance(value, dict):
        found.add(where, 'must be {{"weekdays": [...], "from": "HH:MM", "to": "HH:MM"}}')
        return None
    extra = set(value) - {"weekdays", "from", "to"}
    if extra:
        found.add(where, "unknown field(s): {fields}", fields=", ".join(sorted(extra)))
        return None
    raw_days = value.get("weekdays", list(range(7)))
    days: set[int] = set()
    if not isinstance(raw_days, list) or not raw_days:
        found.add(f"{where}.weekdays", "name at least one weekday (0 = Monday … 6 = Sunday, or mon…sun)")
        return None
    for day in raw_days:
        if isinstance(day, str) and day.lower()[:3] in WEEKDAY_NAMES:
            days.add(WEEKDAY_NAMES.index(day.lower()[:3]))
        elif isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 6:
            days.add(day)
        else:
            found.add(f"{where}.weekdays", "not a weekday: {day} (0 = Monday … 6 = Sunday, or mon…sun)", day=repr(day))
            return None
    start = _clock(value.get("from", "00:00"), f"{where}.from", found)
    end = _clock(value.get("to", "24:00"), f"{where}.to", found)
    if start is None or end is None:
        return None
    if end <= start:
        found.add(
            f"{where}.to",
            "the window ends ({end}) before it starts ({start}): it can never hold; "
            "split a window past midnight into two rules",
            end=_hhmm(end),
            start=_hhmm(start),
        )
        return None
    return DayTimeWindow(weekdays=frozenset(days), start=start, end=end)


_END_OF_DAY = time(23, 59, 59, 999_999)


def _clock(value: Any, where: str, found: ErrorCollector) -> time | None:
    if value == "24:00":
        return _END_OF_DAY
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        found.add(where, "must be a time like 09:00 (24-hour clock)")
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _hhmm(moment: time) -> str:
    return "24:00" if moment == _END_OF_DAY else moment.strftime("%H:%M")


def _queue_ref(value: Any, where: str, found: ErrorCollector) -> QueueRef | None:
    if value is True:
        return QueueRef(None)
    if isinstance(value, str) and value.strip():
        return QueueRef(value.strip())
    found.add(where, "must be a queue name, or true for the queue chosen so far")
    return None


def _string_list(value: Any, where: str, found: ErrorCollector) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        found.add(where, "must be a non-empty list")
        return None
    if not all(isinstance(v, str) and v.strip() for v in value):
        found.add(where, "every entry must be a non-empty text")
        return None
    return [v.strip() for v in value]


def _int(value: Any, where: str, found: ErrorCollector, *, low: int, high: int) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        found.add(where, "must be a whole number from {low} to {high}", low=low, high=high)
        return None
    return value


def _parse_actions(raw: Any, found: ErrorCollector) -> Actions | None:
    if not isinstance(raw, dict) or not raw:
        found.add("actions", "a rule needs at least one action")
        return None
    values: dict[str, Any] = {}
    before = len(found.errors)
    for key, value in raw.items():
        where = f"actions.{key}"
        if key not in ACTION_KEYS:
            found.add(where, "unknown action (expected one of {fields})", fields=", ".join(ACTION_KEYS))
        elif key == "route_to_queue":
            if isinstance(value, str) and value.strip():
                values[key] = value.strip()
            else:
                found.add(where, "must be a queue name")
        elif key == "route_to_agent":
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                values[key] = value
            else:
                found.add(where, "must be an agent id")
        elif key == "set_priority":
            parsed = _int(value, where, found, low=0, high=MAX_PRIORITY)
            values[key] = parsed
        elif key == "raise_priority":
            values[key] = _int(value, where, found, low=1, high=MAX_PRIORITY)
        elif key in ("offer_callback_first", "stop"):
            if isinstance(value, bool):
                values[key] = value
            else:
                found.add(where, "must be true or false")
        elif key == "announce":
            values[key] = _parse_announcement(value, where, found)
    if len(found.errors) > before:
        return None
    return Actions(**values)


def _parse_announcement(value: Any, where: str, found: ErrorCollector) -> dict[str, str] | None:
    # Every caller-facing sentence exists in both languages (docs/product-rules.md).
    if not isinstance(value, dict):
        found.add(where, 'must be {{"nl": "...", "en": "..."}}')
        return None
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            found.add(f"{where}.{lang}", "the announcement is needed in both nl and en")
            return None
        if len(text) > 500:
            found.add(f"{where}.{lang}", "at most 500 characters")
            return None
    extra = set(value) - set(LANGUAGES)
    if extra:
        found.add(where, "unknown language(s): {values}", values=", ".join(sorted(extra)))
        return None
    return {lang: value[lang].strip() for lang in LANGUAGES}


# -- back to JSON --------------------------------------------------------------------------------


def _rule_to_json(rule: Rule) -> dict[str, Any]:
    c, a = rule.conditions, rule.actions
    conditions: dict[str, Any] = {}
    if c.always:
        conditions["always"] = True
    if c.intent_in is not None:
        conditions["intent_in"] = sorted(c.intent_in)
    for key in ("language", "vip", "repeat_count_at_least", "has_open_promise", "matches_incident"):
        value = getattr(c, key)
        if value is not None:
            conditions[key] = value
    if c.number_prefix is not None:
        conditions["number_prefix"] = list(c.number_prefix)
    if c.region is not None:
        conditions["region"] = sorted(c.region)
    if c.day_time is not None:
        conditions["day_time"] = {
            "weekdays": sorted(c.day_time.weekdays),
            "from": _hhmm(c.day_time.start),
            "to": _hhmm(c.day_time.end),
        }
    if c.wait_estimate_above_seconds is not None:
        wait = c.wait_estimate_above_seconds
        conditions["wait_estimate_above_seconds"] = (
            wait.seconds if wait.queue.name is None else {"queue": wait.queue.name, "seconds": wait.seconds}
        )
    for key in ("queue_open", "queue_closed"):
        ref = getattr(c, key)
        if ref is not None:
            conditions[key] = ref.name if ref.name is not None else True
    actions: dict[str, Any] = {}
    for key in ACTION_KEYS:
        value = getattr(a, key)
        if key == "stop":
            if value:
                actions["stop"] = True
        elif value is not None:
            actions[key] = dict(value) if key == "announce" else value
    result: dict[str, Any] = {"name": rule.name, "conditions": conditions, "actions": actions}
    if not rule.enabled:
        result["enabled"] = False
    return result
