"""Where a contact goes and why: a pure function over a snapshot of plain data.

`evaluate_rules(rule_set, snapshot)` applies the built-in behaviour first (a repeat contact goes to
the agent or team that handled the last one, with raised priority; unresolved and VIP callers get
raised priority), then the supervisors' rules in order until one says stop, then makes sure the
result is an existing, open queue (following overflow queues) or offers a callback first.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from routing.phrases import Phrase, phrase, render_all
from routing.rules import MAX_PRIORITY, WEEKDAY_NAMES, Conditions, QueueRef, Rule, RuleSet
from routing.snapshot import (
    Decision,
    NoQueues,
    QueueFacts,
    RoutingSnapshot,
)
from terugbel.logs import get_logger

log = get_logger(__name__)

@dataclass
class _Working:
    queue: str
    agent_id: int | None = None
    priority: int = 0
    offer_callback: bool | None = None  # None: not said by a rule; the wait threshold decides
    announcement: dict[str, str] | None = None
    decider: str | None = None  # rule name
    decider_why: tuple[Phrase, ...] = ()
    notes: list[Phrase] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def evaluate_rules(rule_set: RuleSet, snapshot: RoutingSnapshot) -> Decision:
    """Decide queue, preferred agent, priority and callback offer for one contact, and say why."""
    if not snapshot.queues:
        raise NoQueues("no queue to route to")
    work = _Working(queue=_start_queue(snapshot))
    built_in_why = _apply_built_in(snapshot, work)
    plan = _plan_for(rule_set)
    missing = plan.missing_references(snapshot)
    facts = _Facts(snapshot)
    for index, (rule, checks) in enumerate(plan.rules):
        if index in missing:
            # A rule that names something deleted since publishing must never fail a call.
            log.warning("routing rule skipped", rule=rule.name, reason=str(missing[index]))
            work.skipped.append(rule.name)
            work.notes.append(phrase("rule '{rule}' skipped: {why}", rule=rule.name, why=missing[index]))
            continue
        for check in checks:
            if not check.holds(facts, work):
                break
        else:
            work.matched.append(rule.name)
            _apply_actions(rule, tuple(check.reason(facts, work) for check in checks), snapshot, work)
            if rule.actions.stop:
                break
    return _finish(snapshot, work, built_in_why)


def _start_queue(snapshot: RoutingSnapshot) -> str:
    if snapshot.default_queue in snapshot.queues:
        return snapshot.default_queue
    return min(snapshot.queues.values(), key=lambda q: q.id).name


def _apply_built_in(snapshot: RoutingSnapshot, work: _Working) -> Phrase:
    history, caller = snapshot.history, snapshot.caller
    if snapshot.intent and snapshot.default_queue in snapshot.queues:
        why = phrase("intent {intent} goes to {queue}", intent=snapshot.intent, queue=snapshot.default_queue)
    else:
        why = phrase("default queue {queue}", queue=work.queue)
    raised: list[Phrase] = []
    if history.repeat_count > 0:
        nth = _ordinal(history.repeat_count + 1)
        raised.append(phrase("repeat contact ({nth} in {days} days)", nth=nth, days=history.window_days))
        if history.last_queue is not None and history.last_queue in snapshot.queues:
            work.queue = history.last_queue
        agent = snapshot.agents.get(history.last_agent_id) if history.last_agent_id else None
        if agent is not None and agent.on_shift:
            work.agent_id = agent.id
            why = phrase("repeat contact, last handled by {agent} in {queue}", agent=agent.name, queue=work.queue)
        elif agent is not None:
            why = phrase(
                "repeat contact, {agent} is not on shift, so the same team {queue}", agent=agent.name, queue=work.queue
            )
        else:
            why = phrase("repeat contact, back to the same team {queue}", queue=work.queue)
    if history.has_unresolved:
        raised.append(phrase("an unresolved contact"))
    if caller.vip:
        raised.append(phrase("VIP"))
    if raised:
        work.priority += len(raised)
        work.notes.append(
            phrase("priority {priority} (built-in): {reasons}", priority=work.priority, reasons=tuple(raised))
        )
    return why


def _missing_reference(rule: Rule, queues: Container[str], agents: Container[int]) -> Phrase | None:
    actions, conditions = rule.actions, rule.conditions
    if actions.route_to_queue is not None and actions.route_to_queue not in queues:
        return phrase("queue '{queue}' no longer exists", queue=actions.route_to_queue)
    if actions.route_to_agent is not None and actions.route_to_agent not in agents:
        return phrase("agent {agent} no longer works here", agent=actions.route_to_agent)
    wait = conditions.wait_estimate_above_seconds
    for ref in (conditions.queue_open, conditions.queue_closed, wait.queue if wait else None):
        if ref is not None and ref.name is not None and ref.name not in queues:
            return phrase("queue '{queue}' no longer exists", queue=ref.name)
    return None


class _Facts:
    """What the conditions read, with the contact center's local time worked out once."""

    __slots__ = ("caller", "clock", "history", "local_time", "snapshot", "weekday")

    def __init__(self, snapshot: RoutingSnapshot) -> None:
        self.snapshot, self.caller, self.history = snapshot, snapshot.caller, snapshot.history
        local = snapshot.now.astimezone(ZoneInfo(snapshot.zone))
        self.weekday, self.clock = local.weekday(), local.time().replace(tzinfo=None)
        self.local_time = f"{local:%H:%M}"


@dataclass(frozen=True)
class _Check:
    """One condition of a rule: whether it holds, and the reason in supervisor words when it does."""

    holds: Callable[[_Facts, _Working], bool]
    reason: Callable[[_Facts, _Working], Phrase]


def _checks(conditions: Conditions) -> tuple[_Check, ...]:
    """The rule's conditions as checks, in the order their reasons are told; absent ones cost nothing."""
    checks: list[_Check] = []
    if conditions.always:
        checks.append(_Check(lambda f, w: True, lambda f, w: phrase("applies to every call")))
    if (intents := conditions.intent_in) is not None:
        checks.append(
            _Check(
                lambda f, w: f.snapshot.intent in intents,
                lambda f, w: phrase("intent is {intent}", intent=f.snapshot.intent or ""),
            )
        )
    if (language := conditions.language) is not None:
        checks.append(
            _Check(
                lambda f, w: f.snapshot.language == language,
                lambda f, w: phrase("language is {language}", language=f.snapshot.language),
            )
        )
    if (vip := conditions.vip) is not None:
        checks.append(
            _Check(
                lambda f, w: f.caller.vip == vip,
                lambda f, w: phrase("caller is VIP") if f.caller.vip else phrase("caller is not VIP"),
            )
        )
    if (at_least := conditions.repeat_count_at_least) is not None:
        checks.append(
            _Check(
                lambda f, w: f.history.repeat_count >= at_least,
                lambda f, w: phrase(
                    "{count} earlier contact(s) in {days} days",
                    count=f.history.repeat_count,
                    days=f.history.window_days,
                ),
            )
        )
    if (promise := conditions.has_open_promise) is not None:
        checks.append(
            _Check(
                lambda f, w: f.caller.has_open_promise == promise,
                lambda f, w: (
                    phrase("has an open callback") if f.caller.has_open_promise else phrase("has no open callback")
                ),
            )
        )
    if (incident := conditions.matches_incident) is not None:
        checks.append(
            _Check(
                lambda f, w: bool(f.caller.incident_ids) == incident,
                lambda f, w: (
                    phrase("matches an active incident") if f.caller.incident_ids else phrase("matches no incident")
                ),
            )
        )
    if (prefixes := conditions.number_prefix) is not None:

        def prefix_of(f: _Facts) -> str | None:
            number = f.caller.number or ""
            return next((p for p in prefixes if number.startswith(p)), None)

        checks.append(
            _Check(
                lambda f, w: prefix_of(f) is not None,
                lambda f, w: phrase("number starts with {prefix}", prefix=prefix_of(f) or ""),
            )
        )
    if (regions := conditions.region) is not None:
        checks.append(
            _Check(
                lambda f, w: f.caller.region in regions,
                lambda f, w: phrase("number is from {region}", region=f.caller.region or ""),
            )
        )
    if (window := conditions.day_time) is not None:
        end = "24:00" if window.end.hour == 23 and window.end.minute == 59 else window.end.strftime("%H:%M")
        within = f"{window.start:%H:%M}–{end}"
        checks.append(
            _Check(
                lambda f, w: f.weekday in window.weekdays and window.start <= f.clock < window.end,
                lambda f, w: phrase(
                    "{day} {time} is within {window}",
                    day=phrase(WEEKDAY_NAMES[f.weekday]),
                    time=f.local_time,
                    window=within,
                ),
            )
        )
    if (wait := conditions.wait_estimate_above_seconds) is not None:

        def waited(f: _Facts, w: _Working) -> QueueFacts:
            return f.snapshot.queues[_queue_name(wait.queue, w)]

        checks.append(
            _Check(
                lambda f, w: waited(f, w).wait_estimate_seconds > wait.seconds,
                lambda f, w: phrase(
                    "wait for {queue} is {wait} s (over {limit} s)",
                    queue=waited(f, w).name,
                    wait=waited(f, w).wait_estimate_seconds,
                    limit=wait.seconds,
                ),
            )
        )
    if (must_be_open := conditions.queue_open) is not None:
        checks.append(
            _Check(
                lambda f, w: f.snapshot.queues[_queue_name(must_be_open, w)].open,
                lambda f, w: phrase("{queue} is open", queue=_queue_name(must_be_open, w)),
            )
        )
    if (must_be_closed := conditions.queue_closed) is not None:
        checks.append(
            _Check(
                lambda f, w: not f.snapshot.queues[_queue_name(must_be_closed, w)].open,
                lambda f, w: phrase("{queue} is closed", queue=_queue_name(must_be_closed, w)),
            )
        )
    return tuple(checks)


class _Plan:
    """A rule set made ready to evaluate: built once per rule set, not once per contact."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        self.rules = [(rule, _checks(rule.conditions)) for rule in rule_set.rules if rule.enabled]
        self._missing: dict[tuple[frozenset[str], frozenset[int]], dict[int, Phrase]] = {}

    def missing_references(self, snapshot: RoutingSnapshot) -> dict[int, Phrase]:
        """Why rules (by position) name a queue or agent that no longer exists, per set of both."""
        key = (frozenset(snapshot.queues), frozenset(snapshot.agents))
        missing = self._missing.get(key)
        if missing is None:
            if len(self._missing) > 16:
                self._missing.clear()
            missing = self._missing[key] = {
                index: reason
                for index, (rule, _) in enumerate(self.rules)
                if (reason := _missing_reference(rule, key[0], key[1])) is not None
            }
        return missing


_plans: dict[int, _Plan] = {}


def _plan_for(rule_set: RuleSet) -> _Plan:
    plan = _plans.get(id(rule_set))
    if plan is None or plan.rule_set is not rule_set:  # an id is reused once its set is gone
        if len(_plans) > 16:
            _plans.clear()
        plan = _plans[id(rule_set)] = _Plan(rule_set)
    return plan


def _queue_name(ref: QueueRef, work: _Working) -> str:
    return ref.name if ref.name is not None else work.queue


def _apply_actions(rule: Rule, why: tuple[Phrase, ...], snapshot: RoutingSnapshot, work: _Working) -> None:
    actions = rule.actions
    did: list[Phrase] = []
    routed = False
    if actions.route_to_queue is not None:
        if actions.route_to_queue != work.queue:
            work.agent_id = None  # the built-in preferred agent belonged to the other team
        work.queue = actions.route_to_queue
        routed = True
    if actions.route_to_agent is not None:
        agent = snapshot.agents[actions.route_to_agent]
        if agent.on_shift:
            work.agent_id = agent.id
            if snapshot.queues[work.queue].skill not in agent.skills:
                served = sorted(q.name for q in snapshot.queues.values() if q.skill in agent.skills)
                if served:
                    work.queue = served[0]
            routed = True
        else:
            did.append(phrase("{agent} is not on shift, so any agent of {queue}", agent=agent.name, queue=work.queue))
    if actions.set_priority is not None:
        work.priority = actions.set_priority
        did.append(phrase("priority set to {priority}", priority=work.priority))
    if actions.raise_priority is not None:
        work.priority = min(MAX_PRIORITY, work.priority + actions.raise_priority)
        did.append(phrase("priority raised to {priority}", priority=work.priority))
    if actions.offer_callback_first is not None:
        work.offer_callback = actions.offer_callback_first
        did.append(phrase("offer a callback first" if actions.offer_callback_first else "no callback offer first"))
    if actions.announce is not None:
        work.announcement = dict(actions.announce)
        did.append(phrase("play its announcement"))
    if actions.stop:
        did.append(phrase("stop"))
    if routed:
        if work.decider is not None:
            work.notes.append(
                phrase("rule '{rule}' ({why}) overruled by a later rule", rule=work.decider, why=work.decider_why)
            )
        work.decider, work.decider_why = rule.name, why
        if did:
            work.notes.append(phrase("rule '{rule}': {did}", rule=rule.name, did=tuple(did)))
    else:
        work.notes.append(phrase("rule '{rule}' ({why}): {did}", rule=rule.name, why=why, did=tuple(did)))


def _finish(snapshot: RoutingSnapshot, work: _Working, built_in_why: Phrase) -> Decision:
    chosen = work.queue
    queue = snapshot.queues[chosen]
    if not queue.open:
        open_overflow = _open_overflow(snapshot, queue)
        if open_overflow is not None:
            work.notes.append(
                phrase("{queue} is closed, so its overflow {overflow}", queue=queue.name, overflow=open_overflow.name)
            )
            queue = open_overflow
            work.agent_id = None
        else:
            work.notes.append(phrase("{queue} is closed: offer a callback", queue=queue.name))
    offer_callback = not queue.open or bool(work.offer_callback)
    agent = snapshot.agents.get(work.agent_id) if work.agent_id is not None else None
    waiting_for_agent = agent is not None and agent.state == "available"
    if (
        queue.open
        and work.offer_callback is None
        and not waiting_for_agent
        and queue.wait_estimate_seconds > queue.wait_threshold_seconds
    ):
        offer_callback = True
        work.notes.append(
            phrase(
                "wait {wait} s is over {limit} s: offer a callback first",
                wait=queue.wait_estimate_seconds,
                limit=queue.wait_threshold_seconds,
            )
        )
    if agent is None:
        where = phrase("→ {queue}", queue=queue.name)
    else:
        where = phrase(
            "→ {queue}, {agent} first (up to {seconds} s)",
            queue=queue.name,
            agent=agent.name,
            seconds=snapshot.preferred_wait_seconds,
        )
    if work.decider is None:
        head = phrase("{where} (built-in): {why}", where=where, why=built_in_why)
    elif work.decider_why:
        head = phrase("{where} (rule '{rule}'): {why}", where=where, rule=work.decider, why=work.decider_why)
    else:
        head = phrase("{where} (rule '{rule}')", where=where, rule=work.decider)
    parts = (head, *work.notes)
    rule_name = work.decider or (work.matched[-1] if work.matched else None)
    return Decision(
        queue_id=queue.id,
        queue_name=queue.name,
        preferred_agent_id=agent.id if agent is not None else None,
        priority=max(0, min(MAX_PRIORITY, work.priority)),
        wait_estimate_seconds=queue.wait_estimate_seconds,
        queue_open=queue.open,
        offer_callback_first=offer_callback,
        announcement=work.announcement,
        explanation=render_all(parts),
        rule_name=rule_name,
        repeat_count=snapshot.history.repeat_count,
        preferred_wait_seconds=snapshot.preferred_wait_seconds if agent is not None else 0,
        matched_rules=tuple(work.matched),
        skipped_rules=tuple(work.skipped),
        explanation_parts=parts,
    )


def _open_overflow(snapshot: RoutingSnapshot, queue: QueueFacts) -> QueueFacts | None:
    seen = {queue.name}
    name = queue.overflow_queue
    while name is not None and name in snapshot.queues and name not in seen:
        candidate = snapshot.queues[name]
        if candidate.open:
            return candidate
        seen.add(name)
        name = candidate.overflow_queue
    return None


def _ordinal(n: int) -> Phrase:
    if 10 <= n % 100 <= 20 or n % 10 not in (1, 2, 3):
        return phrase("{n}th", n=n)
    if n % 10 == 1:
        return phrase("{n}st", n=n)
    return phrase("{n}nd" if n % 10 == 2 else "{n}rd", n=n)
