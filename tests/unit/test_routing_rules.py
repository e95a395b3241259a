"""Validation of supervisor-edited routing rules: every refusal names the rule and the field."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.rule_parsing import parse_rule_set, rule_set_to_json
from routing.rule_validation import validate_rule_set
from routing.rules import ACTION_KEYS, CONDITION_KEYS, InvalidRuleSet

QUEUES = {"technisch", "facturen", "retentie", "algemeen"}
AGENTS = {1, 2, 3}
INTENTS = {"internet", "factuur", "opzeggen", "tv"}


def validate(rules: Any) -> list[tuple[int | None, str, str]]:
    return [(e.rule_index, e.field, e.message) for e in validate_rule_set(rules, QUEUES, AGENTS, INTENTS)]


def rule(name: str = "r", conditions: Any = None, actions: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "conditions": conditions if conditions is not None else {"intent_in": ["opzeggen"]},
        "actions": actions if actions is not None else {"route_to_queue": "retentie"},
        **extra,
    }


def test_a_good_rule_set_validates_and_round_trips() -> None:
    rules = [
        rule("Opzeggers naar retentie", actions={"route_to_queue": "retentie", "stop": True}),
        rule(
            "Utrecht tijdens kantoortijd",
            {
                "number_prefix": ["+3130"],
                "day_time": {"weekdays": ["mon", "tue", 2, 3, 4], "from": "09:00", "to": "17:30"},
                "wait_estimate_above_seconds": {"queue": "technisch", "seconds": 600},
                "queue_open": "algemeen",
            },
            {"route_to_agent": 2, "raise_priority": 2, "announce": {"nl": "Hallo", "en": "Hello"}},
        ),
        rule("Iedereen", {"always": True}, {"offer_callback_first": True}, enabled=False),
    ]
    assert validate(rules) == []
    parsed = parse_rule_set(rules)
    assert parse_rule_set(rule_set_to_json(parsed)) == parsed
    window = parsed.rules[1].conditions.day_time
    assert window is not None and window.weekdays == frozenset(range(5))


def test_unknown_queue_names_the_rule_and_field() -> None:
    errors = validate([rule("Opzeggers naar retentie", actions={"route_to_queue": "retnetie"})])
    assert len(errors) == 1
    index, field, message = errors[0]
    assert (index, field) == (0, "actions.route_to_queue")
    assert "retnetie" in message and "retentie" in message  # the known names help fix the typo
    error = validate_rule_set(
        [rule("Opzeggers naar retentie", actions={"route_to_queue": "retnetie"})], QUEUES, AGENTS, INTENTS
    )[0]
    assert error.rule_name == "Opzeggers naar retentie"


@pytest.mark.parametrize(
    ("bad_rule", "field"),
    [
        (rule(actions={"route_to_agent": 99}), "actions.route_to_agent"),
        (rule(conditions={"intent_in": ["opzegen"]}), "conditions.intent_in"),
        (rule(conditions={}), "conditions"),
        (rule(conditions={"intent_in": []}), "conditions.intent_in"),
        (rule(conditions={"always": False}), "conditions.always"),
        (rule(conditions={"intnet_in": ["tv"]}), "conditions.intnet_in"),
        (rule(actions={}), "actions"),
        (rule(actions={"route_to": "x"}), "actions.route_to"),
        (rule(conditions={"language": "de"}), "conditions.language"),
        (rule(conditions={"repeat_count_at_least": 0}), "conditions.repeat_count_at_least"),
        (rule(conditions={"number_prefix": ["030"]}), "conditions.number_prefix"),
        (rule(conditions={"region": ["XX"]}), "conditions.region"),
        (rule(conditions={"queue_open": "nergens"}), "conditions.queue_open"),
        (
            rule(conditions={"wait_estimate_above_seconds": {"queue": "x", "seconds": 5}}),
            "conditions.wait_estimate_above_seconds.queue",
        ),
        (rule(conditions={"wait_estimate_above_seconds": -1}), "conditions.wait_estimate_above_seconds"),
        (rule(conditions={"day_time": {"from": "17:00", "to": "09:00"}}), "conditions.day_time.to"),
        (rule(conditions={"day_time": {"weekdays": [], "from": "09:00"}}), "conditions.day_time.weekdays"),
        (rule(conditions={"day_time": {"from": "9 uur"}}), "conditions.day_time.from"),
        (
            rule(conditions={"queue_open": "technisch", "queue_closed": "technisch"}),
            "conditions.queue_closed",
        ),
        (rule(actions={"announce": {"nl": "Hallo"}}), "actions.announce.en"),
        (rule(actions={"set_priority": "hoog"}), "actions.set_priority"),
        (rule(actions={"stop": "ja"}), "actions.stop"),
        (rule(name=""), "name"),
        (rule(colour="red"), "colour"),
    ],
)
def test_each_bad_field_is_named(bad_rule: dict[str, Any], field: str) -> None:
    errors = validate([rule("first", {"intent_in": ["tv"]}), bad_rule])
    assert errors, "the rule set should be refused"
    assert errors[0][0] == 1
    assert errors[0][1] == field


def test_rule_set_must_be_a_list_and_names_unique() -> None:
    assert validate({"name": "x"})[0][1] == "rules"
    errors = validate([rule("dubbel"), rule("dubbel", {"intent_in": ["tv"]})])
    assert errors == [(1, "name", "the name is already used by rule 1")]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ({"always": True}, {"intent_in": ["tv"]}),
        ({"intent_in": ["tv", "internet"]}, {"intent_in": ["tv"], "vip": True}),
        ({"number_prefix": ["+3130"]}, {"number_prefix": ["+31301", "+3130"]}),
        ({"repeat_count_at_least": 2}, {"repeat_count_at_least": 3}),
        (
            {"day_time": {"weekdays": [0, 1, 2, 3, 4], "from": "08:00", "to": "18:00"}},
            {"day_time": {"weekdays": [0], "from": "09:00", "to": "10:00"}, "language": "en"},
        ),
    ],
)
def test_a_rule_behind_an_always_matching_stop_is_refused(earlier: dict[str, Any], later: dict[str, Any]) -> None:
    rules = [rule("vangnet", earlier, {"route_to_queue": "algemeen", "stop": True}), rule("later", later)]
    errors = validate(rules)
    assert [(i, f) for i, f, _ in errors] == [(1, "conditions")]
    assert "'vangnet'" in errors[0][2]
    # Without stop, the later rule can still change the decision: allowed.
    rules[0]["actions"] = {"route_to_queue": "algemeen"}
    assert validate(rules) == []


def test_a_narrower_earlier_stop_does_not_shadow() -> None:
    rules = [
        rule("vip", {"intent_in": ["tv"], "vip": True}, {"route_to_queue": "algemeen", "stop": True}),
        rule("tv", {"intent_in": ["tv"]}, {"route_to_queue": "technisch"}),
    ]
    assert validate(rules) == []


def test_parse_refuses_malformed_data_with_all_errors() -> None:
    with pytest.raises(InvalidRuleSet) as raised:
        parse_rule_set([rule(conditions={"language": "fr"}), rule("b", actions={"stop": 1})])
    assert [e.field for e in raised.value.errors] == ["conditions.language", "actions.stop"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


rule_parts = st.fixed_dictionaries(
    {
        "name": st.text(max_size=5),
        "conditions": st.dictionaries(st.sampled_from(CONDITION_KEYS), json_values, max_size=3),
        "actions": st.dictionaries(st.sampled_from(ACTION_KEYS), json_values, max_size=3),
    }
)


@given(st.lists(rule_parts | st.dictionaries(st.sampled_from(["name", "conditions", "x"]), json_values)))
def test_validation_never_crashes_on_arbitrary_json(rules: list[dict[str, Any]]) -> None:
    errors = validate_rule_set(rules, QUEUES, AGENTS, INTENTS)
    for error in errors:
        assert error.field and error.message
