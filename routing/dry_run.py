"""A pretend contact decided against the live rules or a draft, recording nothing: what supervisors
try before they publish.

The dry run reads the same snapshot a live contact would and takes the intent from the caller's
words as a live call does (`routing.route.classify_intent`): words a call would only be unsure of
route by the intent its confirmation question proposes, and the explanation says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from routing.config import IntentConfig
from routing.decision import evaluate_rules
from routing.phrases import phrase, render_all
from routing.repeats import REPEAT_WINDOW_DAYS
from routing.route import classify_intent, intent_named, language_of, load_snapshot, routed_caller
from routing.rule_parsing import parse_rule_set
from routing.rule_sets import check_rule_set, live_rules
from routing.rules import InvalidRuleSet
from routing.snapshot import DEFAULT_PREFERRED_WAIT_SECONDS, Decision
from terugbel.phone import try_e164


@dataclass(frozen=True)
class DryRun:
    """What a contact would get, and what it was decided from."""

    decision: Decision
    intent: str | None
    caller_known: bool
    caller_name: str | None
    incidents: list[str]
    rule_set_version: int | None  # None: a draft
    confirm_first: bool = False  # a live call would first ask the caller to confirm the intent


def dry_run(
    session: Session,
    *,
    number: str | None,
    intent_name: str | None = None,
    words: str | None = None,
    at: datetime,
    rules: Any = None,
    language: str | None = None,
    region: str = "NL",
    zone: str = "Europe/Amsterdam",
    window_days: int = REPEAT_WINDOW_DAYS,
    preferred_wait_seconds: int = DEFAULT_PREFERRED_WAIT_SECONDS,
) -> DryRun:
    """Decide for a pretend contact against the live rules or a draft, recording nothing.

    Raises InvalidRuleSet for a draft that does not validate, UnknownIntent for an unknown name.
    """
    if rules is not None:
        errors = check_rule_set(session, rules)
        if errors:
            raise InvalidRuleSet(errors)
        rule_set = parse_rule_set(rules)
        version = None
    else:
        rule_set = live_rules(session)
        version = rule_set.version
    e164 = try_e164(number, region) if number else None
    caller, has_open_promise = routed_caller(session, None, e164) if e164 else (None, False)
    intent: IntentConfig | None = None
    confirm_first = False
    if intent_name:
        intent = intent_named(session, intent_name)
    elif words:
        intent, confirm_first = classify_intent(session, words, language_of(language, caller))
    snapshot, inputs = load_snapshot(
        session,
        caller=caller,
        has_open_promise=has_open_promise,
        number=e164,
        intent=intent,
        language=language,
        now=at,
        window_days=window_days,
        preferred_wait_seconds=preferred_wait_seconds,
        zone=zone,
    )
    decision = evaluate_rules(rule_set, snapshot)
    if confirm_first and intent is not None:
        unsure = phrase(
            "the words only suggest {intent}: a call first asks the caller to confirm it,"
            " and goes here when they say yes",
            intent=intent.name,
        )
        parts = (*decision.explanation_parts, unsure)
        decision = replace(decision, explanation=render_all(parts), explanation_parts=parts)
    return DryRun(
        decision=decision,
        intent=intent.name if intent is not None else None,
        caller_known=caller is not None,
        caller_name=caller.name if caller is not None else None,
        incidents=[i.title for i in inputs.incidents],
        rule_set_version=version,
        confirm_first=confirm_first,
    )
