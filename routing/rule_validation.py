"""Whether a rule set may go live: it parses, names queues, agents and intents that exist, and has
no rule that an earlier stopping rule keeps from ever matching."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from routing.phrases import Phrase, phrase
from routing.rule_parsing import ErrorCollector, parse_with_errors
from routing.rules import Conditions, DayTimeWindow, Rule, RuleError, WaitAbove


def validate_rule_set(
    rules: Any,
    known_queues: Collection[str],
    known_agents: Collection[int],
    known_intents: Collection[str],
) -> list[RuleError]:
    """Return every reason to refuse `rules` (JSON form); an empty list means it may go live."""
    rule_set, errors = parse_with_errors(rules)
    if errors:
        return errors
    for index, rule in enumerate(rule_set.rules):
        found = ErrorCollector(index=index, name=rule.name)
        _check_references(rule, found, set(known_queues), set(known_agents), set(known_intents))
        _check_shadowed(rule_set.rules[:index], rule, found)
        errors.extend(found.errors)
    return errors


def _check_references(rule: Rule, found: ErrorCollector, queues: set[str], agents: set[int], intents: set[str]) -> None:
    c, a = rule.conditions, rule.actions
    if a.route_to_queue is not None and a.route_to_queue not in queues:
        unknown_queue = phrase("unknown queue '{name}'", name=a.route_to_queue)
        found.add_phrase("actions.route_to_queue", _unknown(unknown_queue, queues))
    if a.route_to_agent is not None and a.route_to_agent not in agents:
        found.add_phrase("actions.route_to_agent", phrase("unknown or inactive agent id {id}", id=a.route_to_agent))
    if c.intent_in is not None:
        unknown = sorted(c.intent_in - intents)
        if unknown:
            unknown_intents = phrase("unknown intent(s): {name}", name=", ".join(unknown))
            found.add_phrase("conditions.intent_in", _unknown(unknown_intents, intents))
    wait = c.wait_estimate_above_seconds
    for key, ref in (
        ("queue_open", c.queue_open),
        ("queue_closed", c.queue_closed),
        ("wait_estimate_above_seconds.queue", wait.queue if wait is not None else None),
    ):
        if ref is not None and ref.name is not None and ref.name not in queues:
            found.add_phrase(f"conditions.{key}", _unknown(phrase("unknown queue '{name}'", name=ref.name), queues))


def _unknown(said: Phrase, known: Collection[str]) -> Phrase:
    """What is unknown, and the names that are known (if any) to pick from."""
    if not known:
        return said
    return phrase("{unknown} (known: {names})", unknown=said, names=", ".join(sorted(known)))


def _check_shadowed(earlier: Sequence[Rule], rule: Rule, found: ErrorCollector) -> None:
    if not rule.enabled:
        return
    for position, before in enumerate(earlier):
        if before.enabled and before.actions.stop and implies(rule.conditions, before.conditions):
            found.add_phrase(
                "conditions",
                phrase(
                    "can never match: rule {position} '{rule}' matches every call this rule matches"
                    " and stops evaluating",
                    position=position + 1,
                    rule=before.name,
                ),
            )
            return


def implies(strict: Conditions, loose: Conditions) -> bool:
    """True when every call matching `strict` certainly matches `loose` too."""
    if loose.always:
        return True
    checks = (
        _subset(strict.intent_in, loose.intent_in),
        _equal(strict.language, loose.language),
        _equal(strict.vip, loose.vip),
        _at_least(strict.repeat_count_at_least, loose.repeat_count_at_least),
        _equal(strict.has_open_promise, loose.has_open_promise),
        _equal(strict.matches_incident, loose.matches_incident),
        _prefixes_within(strict.number_prefix, loose.number_prefix),
        _subset(strict.region, loose.region),
        _window_within(strict.day_time, loose.day_time),
        _wait_within(strict.wait_estimate_above_seconds, loose.wait_estimate_above_seconds),
        _equal(strict.queue_open, loose.queue_open),
        _equal(strict.queue_closed, loose.queue_closed),
    )
    return all(checks)


def _subset(strict: frozenset[str] | None, loose: frozenset[str] | None) -> bool:
    return loose is None or (strict is not None and strict <= loose)


def _equal(strict: object, loose: object) -> bool:
    return loose is None or strict == loose


def _at_least(strict: int | None, loose: int | None) -> bool:
    return loose is None or (strict is not None and strict >= loose)


def _prefixes_within(strict: tuple[str, ...] | None, loose: tuple[str, ...] | None) -> bool:
    if loose is None:
        return True
    return strict is not None and all(any(s.startswith(p) for p in loose) for s in strict)


def _window_within(strict: DayTimeWindow | None, loose: DayTimeWindow | None) -> bool:
    if loose is None:
        return True
    return (
        strict is not None
        and strict.weekdays <= loose.weekdays
        and loose.start <= strict.start
        and strict.end <= loose.end
    )


def _wait_within(strict: WaitAbove | None, loose: WaitAbove | None) -> bool:
    if loose is None:
        return True
    # "The queue chosen so far" can differ between the two rules, so only a named queue compares.
    return (
        strict is not None
        and strict.queue == loose.queue
        and strict.queue.name is not None
        and strict.seconds >= loose.seconds
    )

