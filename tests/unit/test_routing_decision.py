"""The pure routing decision: built-in behaviour, rules in order, explanations in supervisor words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from routing.decision import evaluate_rules
from routing.rule_parsing import parse_rule_set
from routing.rule_validation import validate_rule_set
from routing.rules import RuleSet
from routing.snapshot import AgentFacts, CallerFacts, HistoryFacts, QueueFacts, RoutingSnapshot

MONDAY_10 = datetime(2026, 11, 23, 9, 2, tzinfo=UTC)  # 10:02 in Amsterdam
QUEUES = {
    "technisch": QueueFacts(1, "technisch", "technisch", True, 60, overflow_queue="algemeen"),
    "facturen": QueueFacts(2, "facturen", "facturen", True, 30),
    "retentie": QueueFacts(3, "retentie", "retentie", True, 0),
    "algemeen": QueueFacts(4, "algemeen", "algemeen", True, 90),
}
SANNE = AgentFacts(1, "Sanne Jansen", frozenset({"facturen"}), "on_call", True)
AHMED = AgentFacts(2, "Ahmed El Amrani", frozenset({"technisch"}), "available", True)
BRAM = AgentFacts(3, "Bram de Boer", frozenset({"technisch", "facturen"}), "away", False)
AGENTS = {a.id: a for a in (SANNE, AHMED, BRAM)}
INTENTS = {"internet": "technisch", "factuur": "facturen", "opzeggen": "algemeen", "tv": "technisch"}


def snapshot(intent: str | None = "opzeggen", **changes: Any) -> RoutingSnapshot:
    base = RoutingSnapshot(
        now=MONDAY_10,
        zone="Europe/Amsterdam",
        language="nl",
        intent=intent,
        default_queue=INTENTS.get(intent or "", "algemeen"),
        queues=QUEUES,
        agents=AGENTS,
        caller=CallerFacts(caller_id=7, number="+31301234567", region="NL"),
    )
    return replace(base, **changes)


def rules(*items: dict[str, Any]) -> RuleSet:
    return parse_rule_set(list(items))


RETENTIE = {
    "name": "Opzeggers naar retentie",
    "conditions": {"intent_in": ["opzeggen"]},
    "actions": {"route_to_queue": "retentie"},
}


def test_story_8_rule_routes_and_explains() -> None:
    decision = evaluate_rules(rules(RETENTIE), snapshot())
    assert decision.queue_name == "retentie" and decision.queue_id == 3
    assert decision.explanation.startswith("→ retentie (rule 'Opzeggers naar retentie'): intent is opzeggen")
    assert decision.rule_name == "Opzeggers naar retentie"
    assert decision.queue_open and not decision.offer_callback_first


def test_without_rules_the_intent_queue_decides() -> None:
    decision = evaluate_rules(RuleSet(), snapshot("factuur"))
    assert decision.queue_name == "facturen"
    assert decision.rule_name is None
    assert decision.explanation == "→ facturen (built-in): intent factuur goes to facturen"
    assert decision.priority == 0 and decision.preferred_agent_id is None


def test_story_2_repeat_contact_goes_to_the_last_agent_with_priority() -> None:
    history = HistoryFacts(repeat_count=1, last_agent_id=SANNE.id, last_queue="facturen", has_unresolved=True)
    decision = evaluate_rules(RuleSet(), snapshot("factuur", history=history))
    assert decision.queue_name == "facturen"
    assert decision.preferred_agent_id == SANNE.id
    assert decision.preferred_wait_seconds == 60
    assert decision.priority == 2  # repeat + unresolved
    assert decision.repeat_count == 1
    assert "Sanne Jansen first (up to 60 s)" in decision.explanation
    assert "repeat contact (2nd in 7 days)" in decision.explanation


def test_repeat_contact_whose_agent_is_off_shift_goes_to_the_same_team() -> None:
    history = HistoryFacts(repeat_count=2, last_agent_id=BRAM.id, last_queue="technisch")
    decision = evaluate_rules(RuleSet(), snapshot("factuur", history=history, preferred_wait_seconds=30))
    assert decision.queue_name == "technisch"
    assert decision.preferred_agent_id is None and decision.preferred_wait_seconds == 0
    assert "Bram de Boer is not on shift" in decision.explanation


def test_vip_gets_raised_priority() -> None:
    decision = evaluate_rules(RuleSet(), snapshot(caller=CallerFacts(vip=True)))
    assert decision.priority == 1
    assert "VIP" in decision.explanation


def test_rules_apply_in_order_until_stop() -> None:
    rule_set = rules(
        {"name": "prio", "conditions": {"always": True}, "actions": {"raise_priority": 3}},
        {**RETENTIE, "actions": {"route_to_queue": "retentie", "stop": True}},
        {"name": "nooit", "conditions": {"language": "nl"}, "actions": {"route_to_queue": "facturen"}},
    )
    decision = evaluate_rules(rule_set, snapshot())
    assert decision.queue_name == "retentie"
    assert decision.priority == 3
    assert decision.matched_rules == ("prio", "Opzeggers naar retentie")
    assert "rule 'prio' (applies to every call): priority raised to 3" in decision.explanation


def test_later_rule_overrides_without_stop() -> None:
    rule_set = rules(
        RETENTIE,
        {"name": "Engels", "conditions": {"language": "en"}, "actions": {"route_to_queue": "algemeen"}},
    )
    decision = evaluate_rules(rule_set, snapshot(language="en"))
    assert decision.queue_name == "algemeen"
    assert decision.rule_name == "Engels"


def test_conditions_on_time_number_wait_and_open_queues() -> None:
    rule = {
        "name": "Utrecht op maandagochtend",
        "conditions": {
            "number_prefix": ["+3130"],
            "region": ["NL"],
            "day_time": {"weekdays": ["mon"], "from": "10:00", "to": "12:00"},
            "wait_estimate_above_seconds": {"queue": "technisch", "seconds": 59},
            "queue_open": "retentie",
            "queue_closed": "facturen",
            "has_open_promise": False,
            "matches_incident": True,
            "repeat_count_at_least": 1,
        },
        "actions": {
            "route_to_queue": "retentie",
            "announce": {"nl": "Storing Utrecht", "en": "Outage Utrecht"},
        },
    }
    queues = {**QUEUES, "facturen": replace(QUEUES["facturen"], open=False)}
    caller = CallerFacts(number="+31301234567", region="NL", incident_ids=(4,))
    facts = snapshot("internet", queues=queues, caller=caller, history=HistoryFacts(repeat_count=1))
    decision = evaluate_rules(rules(rule), facts)
    assert decision.queue_name == "retentie"
    assert decision.announcement == {"nl": "Storing Utrecht", "en": "Outage Utrecht"}
    for reason in ("number starts with +3130", "mon 10:02 is within 10:00–12:00", "facturen is closed"):
        assert reason in decision.explanation
    # One minute before the window opens the rule does not hold.
    earlier = evaluate_rules(rules(rule), replace(facts, now=datetime(2026, 11, 23, 8, 59, tzinfo=UTC)))
    assert earlier.queue_name == "technisch"


def test_closed_queue_overflows_or_offers_a_callback() -> None:
    closed = {**QUEUES, "technisch": replace(QUEUES["technisch"], open=False)}
    decision = evaluate_rules(RuleSet(), snapshot("internet", queues=closed))
    assert decision.queue_name == "algemeen" and decision.queue_open
    assert "technisch is closed, so its overflow algemeen" in decision.explanation
    all_closed = {name: replace(q, open=False) for name, q in QUEUES.items()}
    decision = evaluate_rules(RuleSet(), snapshot("internet", queues=all_closed))
    assert decision.queue_name == "technisch"
    assert not decision.queue_open and decision.offer_callback_first


def test_long_wait_offers_a_callback_first_unless_a_rule_says_otherwise() -> None:
    slow = {**QUEUES, "technisch": replace(QUEUES["technisch"], wait_estimate_seconds=18 * 60)}
    decision = evaluate_rules(RuleSet(), snapshot("internet", queues=slow))
    assert decision.offer_callback_first and decision.wait_estimate_seconds == 1080
    keep = rules({"name": "VIP wacht", "conditions": {"vip": True}, "actions": {"offer_callback_first": False}})
    decision = evaluate_rules(keep, snapshot("internet", queues=slow, caller=CallerFacts(vip=True)))
    assert not decision.offer_callback_first
    assert decision.rule_name == "VIP wacht" and "'VIP wacht'" in decision.explanation


def test_route_to_agent_picks_a_queue_the_agent_serves() -> None:
    rule = {"name": "Ahmed voor VIP", "conditions": {"vip": True}, "actions": {"route_to_agent": AHMED.id}}
    decision = evaluate_rules(rules(rule), snapshot("factuur", caller=CallerFacts(vip=True)))
    assert decision.preferred_agent_id == AHMED.id
    assert decision.queue_name == "technisch"
    off_shift = {**rule, "actions": {"route_to_agent": BRAM.id}}
    decision = evaluate_rules(rules(off_shift), snapshot("factuur", caller=CallerFacts(vip=True)))
    assert decision.preferred_agent_id is None and decision.queue_name == "facturen"


def test_rule_naming_a_deleted_queue_or_agent_is_skipped() -> None:
    rule_set = rules(
        {"name": "oud", "conditions": {"always": True}, "actions": {"route_to_queue": "opgeheven"}},
        {"name": "weg", "conditions": {"always": True}, "actions": {"route_to_agent": 42}},
    )
    decision = evaluate_rules(rule_set, snapshot("factuur"))
    assert decision.queue_name == "facturen"
    assert decision.skipped_rules == ("oud", "weg")
    assert "rule 'oud' skipped: queue 'opgeheven' no longer exists" in decision.explanation


# -- properties ----------------------------------------------------------------------------------

QUEUE_NAMES = sorted(QUEUES)
queue_names = st.sampled_from(QUEUE_NAMES)
condition_values: dict[str, st.SearchStrategy[Any]] = {
    "always": st.just(True),
    "intent_in": st.lists(st.sampled_from(sorted(INTENTS)), min_size=1, max_size=3),
    "language": st.sampled_from(["nl", "en"]),
    "vip": st.booleans(),
    "repeat_count_at_least": st.integers(1, 4),
    "has_open_promise": st.booleans(),
    "matches_incident": st.booleans(),
    "number_prefix": st.lists(st.sampled_from(["+31", "+3130", "+44", "+3120"]), min_size=1, max_size=2),
    "region": st.lists(st.sampled_from(["NL", "GB", "BE"]), min_size=1, max_size=2),
    "day_time": st.tuples(
        st.lists(st.integers(0, 6), min_size=1, max_size=7), st.integers(0, 22), st.integers(1, 24)
    ).map(lambda t: {"weekdays": t[0], "from": f"{t[1]:02d}:00", "to": f"{max(t[1] + 1, t[2]):02d}:00"}),
    "wait_estimate_above_seconds": st.one_of(
        st.integers(0, 600), st.fixed_dictionaries({"queue": queue_names, "seconds": st.integers(0, 600)})
    ),
    "queue_open": st.one_of(st.just(True), queue_names),
    "queue_closed": st.one_of(st.just(True), queue_names),
}
action_values: dict[str, st.SearchStrategy[Any]] = {
    "route_to_queue": queue_names,
    "route_to_agent": st.sampled_from(sorted(AGENTS)),
    "set_priority": st.integers(0, 10),
    "raise_priority": st.integers(1, 5),
    "offer_callback_first": st.booleans(),
    "announce": st.just({"nl": "Let op", "en": "Note"}),
    "stop": st.booleans(),
}


@st.composite
def rule_dicts(draw: st.DrawFn, index: int) -> dict[str, Any]:
    cond_keys = draw(st.lists(st.sampled_from(sorted(condition_values)), min_size=1, max_size=3, unique=True))
    if "always" in cond_keys:
        cond_keys = ["always"]
    act_keys = draw(st.lists(st.sampled_from(sorted(action_values)), min_size=1, max_size=3, unique=True))
    return {
        "name": f"regel {index}",
        "conditions": {k: draw(condition_values[k]) for k in cond_keys},
        "actions": {k: draw(action_values[k]) for k in act_keys},
    }


@st.composite
def rule_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 6))
    return [draw(rule_dicts(i)) for i in range(count)]


@st.composite
def snapshots(draw: st.DrawFn) -> RoutingSnapshot:
    queues = {
        name: replace(q, open=draw(st.booleans()), wait_estimate_seconds=draw(st.integers(0, 1200)))
        for name, q in QUEUES.items()
    }
    agents = {
        a.id: replace(a, on_shift=draw(st.booleans()), state=draw(st.sampled_from(["available", "on_call", "away"])))
        for a in AGENTS.values()
    }
    intent = draw(st.sampled_from([None, *sorted(INTENTS)]))
    return RoutingSnapshot(
        now=draw(st.datetimes(timezones=st.just(UTC), min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1))),
        zone="Europe/Amsterdam",
        language=draw(st.sampled_from(["nl", "en"])),
        intent=intent,
        default_queue=INTENTS.get(intent or "", "algemeen"),
        queues=queues,
        agents=agents,
        caller=CallerFacts(
            caller_id=1,
            number=draw(st.sampled_from(["+31301234567", "+447700900123", "+31201234567"])),
            region=draw(st.sampled_from(["NL", "GB", None])),
            vip=draw(st.booleans()),
            has_open_promise=draw(st.booleans()),
            incident_ids=draw(st.sampled_from([(), (1,)])),
        ),
        history=HistoryFacts(
            repeat_count=draw(st.integers(0, 5)),
            last_agent_id=draw(st.sampled_from([None, *sorted(AGENTS), 99])),
            last_queue=draw(st.sampled_from([None, *QUEUE_NAMES, "opgeheven"])),
            has_unresolved=draw(st.booleans()),
        ),
        preferred_wait_seconds=draw(st.integers(0, 300)),
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(rule_sets(), snapshots())
def test_any_valid_rule_set_gives_an_existing_open_queue_or_a_callback(
    raw: list[dict[str, Any]], facts: RoutingSnapshot
) -> None:
    assume(validate_rule_set(raw, set(QUEUES), set(AGENTS), set(INTENTS)) == [])
    decision = evaluate_rules(parse_rule_set(raw), facts)
    queue = facts.queues[decision.queue_name]
    assert decision.queue_id == queue.id
    assert decision.queue_open == queue.open
    if not queue.open:
        assert decision.offer_callback_first
    if decision.rule_name is not None:
        assert f"rule '{decision.rule_name}'" in decision.explanation
        assert decision.rule_name in decision.matched_rules
    for name in decision.matched_rules:
        assert f"'{name}'" in decision.explanation
    assert decision.explanation.startswith(f"→ {decision.queue_name}")
    if decision.preferred_agent_id is not None:
        assert facts.agents[decision.preferred_agent_id].on_shift
    assert 0 <= decision.priority <= 100


@given(rule_sets(), snapshots())
def test_a_rule_naming_a_deleted_queue_never_fails_the_call(raw: list[dict[str, Any]], facts: RoutingSnapshot) -> None:
    # Publish-time validation knew the queues; then "technisch" was deleted.
    assume(validate_rule_set(raw, set(QUEUES), set(AGENTS), set(INTENTS)) == [])
    fewer = {name: q for name, q in facts.queues.items() if name != "technisch"}
    fewer = {name: replace(q, overflow_queue=None) for name, q in fewer.items()}
    decision = evaluate_rules(parse_rule_set(raw), replace(facts, queues=fewer, default_queue="algemeen"))
    assert decision.queue_name in fewer


def test_a_rule_set_evaluated_again_judges_missing_references_by_the_new_snapshot() -> None:
    # The prepared rule set is kept between contacts; what it found missing must not be.
    rule_set = rules({"name": "nacht", "conditions": {"always": True}, "actions": {"route_to_queue": "nachtdienst"}})
    without = snapshot("factuur")
    assert evaluate_rules(rule_set, without).skipped_rules == ("nacht",)
    nachtdienst = QueueFacts(id=9, name="nachtdienst", skill="nacht", open=True, wait_estimate_seconds=0)
    with_queue = replace(without, queues={**without.queues, "nachtdienst": nachtdienst})
    decision = evaluate_rules(rule_set, with_queue)
    assert decision.skipped_rules == () and decision.queue_name == "nachtdienst"
    assert evaluate_rules(rule_set, without).skipped_rules == ("nacht",)
