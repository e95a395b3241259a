"""The routing rules as a form: one fieldset per rule, conditions and actions as fields, not JSON.

`rows_from_rules` turns the stored JSON (routing/rules.py) into form rows; `rules_from_form` turns
the posted form back into JSON for routing's validator, passing odd values through unchanged so its
errors name the field; `form_key` maps a validator field ("actions.route_to_queue") to the input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TRI_STATE = {"yes": True, "no": False}
CHOSEN_QUEUE = "*"  # "the queue chosen so far" in queue_open / queue_closed / wait conditions
MAX_RULES = 200

# Form keys, in the order they are read; c- = condition, a- = action.
TEXT_KEYS = (
    "name",
    "c-intent_in",
    "c-language",
    "c-vip",
    "c-repeat_count_at_least",
    "c-has_open_promise",
    "c-matches_incident",
    "c-number_prefix",
    "c-region",
    "c-day_time-from",
    "c-day_time-to",
    "c-wait_estimate_above_seconds",
    "c-wait_estimate_above_seconds-queue",
    "c-queue_open",
    "c-queue_closed",
    "a-route_to_queue",
    "a-route_to_agent",
    "a-set_priority",
    "a-raise_priority",
    "a-offer_callback_first",
    "a-announce-nl",
    "a-announce-en",
)
CHECK_KEYS = ("enabled", "c-always", "a-stop")


class FormData(Protocol):
    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...

    def getlist(self, key: str) -> list[str]: ...


@dataclass
class RuleRow:
    """One rule as the form shows it: every value a string (or a set of weekday numbers)."""

    index: int
    values: dict[str, str] = field(default_factory=dict)
    checks: set[str] = field(default_factory=set)
    weekdays: set[int] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    def checked(self, key: str) -> bool:
        return key in self.checks

    @property
    def is_blank(self) -> bool:
        filled = any(v.strip() for key, v in self.values.items() if key != "position")
        return not filled and not (self.checks - {"enabled"}) and not self.weekdays


def rows_from_rules(rules: Sequence[Mapping[str, Any]]) -> list[RuleRow]:
    """Form rows for stored rules (the JSON form of routing/rules.py)."""
    return [_row(index, rule) for index, rule in enumerate(rules)]


def blank_row(index: int) -> RuleRow:
    return RuleRow(index=index, checks={"enabled"})


def _row(index: int, rule: Mapping[str, Any]) -> RuleRow:
    row = RuleRow(index=index, values={"name": str(rule.get("name", ""))})
    if rule.get("enabled", True):
        row.checks.add("enabled")
    c: Mapping[str, Any] = rule.get("conditions") or {}
    a: Mapping[str, Any] = rule.get("actions") or {}
    if c.get("always"):
        row.checks.add("c-always")
    for key in ("intent_in", "number_prefix", "region"):
        if key in c:
            row.values[f"c-{key}"] = ", ".join(c[key]) if isinstance(c[key], list) else str(c[key])
    if "language" in c:
        row.values["c-language"] = str(c["language"])
    for key in ("vip", "has_open_promise", "matches_incident"):
        if key in c:
            row.values[f"c-{key}"] = "yes" if c[key] else "no"
    if "repeat_count_at_least" in c:
        row.values["c-repeat_count_at_least"] = str(c["repeat_count_at_least"])
    window = c.get("day_time")
    if isinstance(window, dict):
        for day in window.get("weekdays", range(7)):
            row.weekdays.add(day if isinstance(day, int) else WEEKDAYS.index(str(day)[:3].lower()))
        row.values["c-day_time-from"] = str(window.get("from", ""))
        row.values["c-day_time-to"] = str(window.get("to", ""))
    wait = c.get("wait_estimate_above_seconds")
    if isinstance(wait, dict):
        row.values["c-wait_estimate_above_seconds"] = str(wait.get("seconds", ""))
        queue = wait.get("queue", True)
        row.values["c-wait_estimate_above_seconds-queue"] = "" if queue is True else str(queue)
    elif wait is not None:
        row.values["c-wait_estimate_above_seconds"] = str(wait)
    for key in ("queue_open", "queue_closed"):
        if key in c:
            row.values[f"c-{key}"] = CHOSEN_QUEUE if c[key] is True else str(c[key])
    for key in ("route_to_queue", "route_to_agent", "set_priority", "raise_priority"):
        if key in a:
            row.values[f"a-{key}"] = str(a[key])
    if "offer_callback_first" in a:
        row.values["a-offer_callback_first"] = "yes" if a["offer_callback_first"] else "no"
    announce = a.get("announce")
    if isinstance(announce, dict):
        row.values["a-announce-nl"] = str(announce.get("nl", ""))
        row.values["a-announce-en"] = str(announce.get("en", ""))
    if a.get("stop"):
        row.checks.add("a-stop")
    return row


def rows_from_form(form: FormData) -> list[RuleRow]:
    """The rows as posted (kept for showing the form again), in the order of their position field."""
    count = _whole(form.get("rule-count", "0")) or 0
    rows = []
    for index in range(min(count, MAX_RULES)):
        prefix = f"rule-{index}-"
        if form.get(prefix + "remove"):
            continue
        row = RuleRow(index=index)
        for key in TEXT_KEYS:
            value = form.get(prefix + key, "")
            if isinstance(value, str) and value.strip():
                row.values[key] = value.strip()
        row.checks = {key for key in CHECK_KEYS if form.get(prefix + key)}
        row.weekdays = {d for d in (_whole(v) for v in form.getlist(prefix + "c-day_time-weekdays")) if d is not None}
        position = _whole(form.get(prefix + "position", ""))
        row.values["position"] = str(position if position is not None else index + 1)
        rows.append(row)
    rows.sort(key=lambda r: (_whole(r.values["position"]) or 0, r.index))
    return rows


def rules_from_rows(rows: Sequence[RuleRow]) -> tuple[list[dict[str, Any]], list[RuleRow]]:
    """The rules JSON for the non-blank rows, and those rows in the same order (for mapping errors)."""
    used = [row for row in rows if not row.is_blank]
    return [_rule(row) for row in used], used


def _rule(row: RuleRow) -> dict[str, Any]:
    v = row.values
    conditions: dict[str, Any] = {}
    if row.checked("c-always"):
        conditions["always"] = True
    for key in ("intent_in", "number_prefix", "region"):
        if v.get(f"c-{key}"):
            conditions[key] = [part.strip() for part in v[f"c-{key}"].split(",") if part.strip()]
    if v.get("c-language"):
        conditions["language"] = v["c-language"]
    for key in ("vip", "has_open_promise", "matches_incident"):
        if v.get(f"c-{key}"):
            conditions[key] = TRI_STATE.get(v[f"c-{key}"], v[f"c-{key}"])
    if v.get("c-repeat_count_at_least"):
        conditions["repeat_count_at_least"] = _number_or_text(v["c-repeat_count_at_least"])
    if row.weekdays or v.get("c-day_time-from") or v.get("c-day_time-to"):
        window: dict[str, Any] = {"weekdays": sorted(row.weekdays) if row.weekdays else list(range(7))}
        window["from"] = v.get("c-day_time-from") or "00:00"
        window["to"] = v.get("c-day_time-to") or "24:00"
        conditions["day_time"] = window
    if v.get("c-wait_estimate_above_seconds"):
        seconds = _number_or_text(v["c-wait_estimate_above_seconds"])
        queue = v.get("c-wait_estimate_above_seconds-queue")
        conditions["wait_estimate_above_seconds"] = {"queue": queue, "seconds": seconds} if queue else seconds
    for key in ("queue_open", "queue_closed"):
        if v.get(f"c-{key}"):
            conditions[key] = True if v[f"c-{key}"] == CHOSEN_QUEUE else v[f"c-{key}"]
    actions: dict[str, Any] = {}
    if v.get("a-route_to_queue"):
        actions["route_to_queue"] = v["a-route_to_queue"]
    for key in ("route_to_agent", "set_priority", "raise_priority"):
        if v.get(f"a-{key}"):
            actions[key] = _number_or_text(v[f"a-{key}"])
    if v.get("a-offer_callback_first"):
        actions["offer_callback_first"] = TRI_STATE.get(v["a-offer_callback_first"], v["a-offer_callback_first"])
    if v.get("a-announce-nl") or v.get("a-announce-en"):
        actions["announce"] = {"nl": v.get("a-announce-nl", ""), "en": v.get("a-announce-en", "")}
    if row.checked("a-stop"):
        actions["stop"] = True
    rule: dict[str, Any] = {"name": v.get("name", ""), "conditions": conditions, "actions": actions}
    if not row.checked("enabled"):
        rule["enabled"] = False
    return rule


def form_key(validator_field: str) -> str:
    """The form input of a validator's field name: "actions.announce.nl" -> "a-announce-nl"."""
    head, _, rest = validator_field.partition(".")
    if head == "conditions" and rest:
        return "c-" + rest.replace(".", "-")
    if head == "actions" and rest:
        return "a-" + rest.replace(".", "-")
    return validator_field


def _whole(raw: Any) -> int | None:
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


def _number_or_text(raw: str) -> int | str:
    # Odd input goes to the validator as it is, so its message lands on this field.
    number = _whole(raw)
    return number if number is not None else raw
