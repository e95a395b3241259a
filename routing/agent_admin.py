"""A supervisor's changes to the agents: add one, change one, let one go (deactivate).

Each function checks every field before it writes anything and names the wrong ones
(`FieldErrors`); the change is audited without the agent's phone number. Deactivating keeps the
agent for history: not active, set away, no longer routed to. Callback capacity follows the
agents, so the caller of these functions re-plans the queues in `AgentChange.replan_skills` in the
same unit of work (routing cannot reach the callbacks layer itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.agents import change_agent_state
from routing.models import Agent, AgentState, Language, Queue
from terugbel.audit import record_audit
from terugbel.phone import InvalidPhoneNumber, callable_number
from terugbel.validation import FieldErrors, NotFound

NAME_LENGTH = 120
LANGUAGES = tuple(language.value for language in Language)
FIELDS = ("name", "phone", "skills", "language", "active")
PHONE_TAKEN = "another active agent has this number"


@dataclass(frozen=True)
class AgentChange:
    """The agent after the change, and the skills whose queues' callback capacity it may alter."""

    agent: Agent
    replan_skills: frozenset[str]


def create_agent(session: Session, *, values: Mapping[str, Any], region: str, actor: str, now: datetime) -> AgentChange:
    """Add an agent: name, phone (any format, stored E.164), skills (existing queues), language, active."""
    wanted = {"language": Language.NL.value, "active": True, **values}
    clean = _checked(session, wanted, required=("name", "phone", "skills"), region=region, agent_id=None)
    agent = Agent(
        name=clean["name"],
        phone=clean["phone"],
        skills=clean["skills"],
        language=clean["language"],
        active=clean["active"],
        state=AgentState.AWAY.value,
        state_changed_at=now,
    )
    session.add(agent)
    session.flush()
    record_audit(
        session, at=now, actor=actor, action="agent.create", subject=f"agent {agent.id}", details=_audited(clean)
    )
    return AgentChange(agent, frozenset(agent.skills))


def update_agent(
    session: Session, *, agent_id: int, values: Mapping[str, Any], region: str, actor: str, now: datetime
) -> AgentChange:
    """Change any of the agent's fields; `active: False` lets the agent go (set away, not routed to)."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(agent_id)
    current = {"name": agent.name, "phone": agent.phone, "skills": list(agent.skills or []), "language": agent.language}
    merged = {**current, "active": agent.active, **{k: v for k, v in values.items() if k in FIELDS}}
    # A number of an inactive agent is checked again once the agent is active with it.
    phone_checked = "phone" in values or (merged["active"] is True and not agent.active)
    clean = _checked(session, merged, required=(), region=region, agent_id=agent.id, check_phone=phone_checked)
    old_skills = frozenset(agent.skills or [])
    was_active = agent.active
    changed = {name: value for name, value in clean.items() if value != {**current, "active": was_active}[name]}
    for name, value in changed.items():
        setattr(agent, name, value)
    if was_active and not agent.active:
        change_agent_state(session, agent.id, AgentState.AWAY, now)
    session.flush()
    record_audit(
        session, at=now, actor=actor, action="agent.update", subject=f"agent {agent.id}", details=_audited(changed)
    )
    capacity_changed = "skills" in changed or "active" in changed
    return AgentChange(agent, old_skills | frozenset(agent.skills) if capacity_changed else frozenset())


def queue_ids_for_skills(session: Session, skills: Iterable[str]) -> list[int]:
    """The queues that agents with these skills serve, by id."""
    wanted = sorted(set(skills))
    if not wanted:
        return []
    return list(session.scalars(select(Queue.id).where(Queue.skill.in_(wanted)).order_by(Queue.id)))


def _audited(values: Mapping[str, Any]) -> dict[str, Any]:
    # The name says whom the entry is about to the supervisors who read the log; the phone never.
    return {name: value for name, value in values.items() if name != "phone"} | (
        {"phone": "changed"} if "phone" in values else {}
    )


def _checked(
    session: Session,
    values: Mapping[str, Any],
    *,
    required: tuple[str, ...],
    region: str,
    agent_id: int | None,
    check_phone: bool = True,
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for name in required:
        if values.get(name) in (None, ""):
            errors[name] = "required"
    if errors:
        raise FieldErrors(errors)
    name = values["name"]
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_LENGTH:
        errors["name"] = f"give a name of 1–{NAME_LENGTH} characters"
    phone = values["phone"]
    if check_phone:
        phone = _phone(session, phone, region, agent_id, will_be_active=values["active"] is True, errors=errors)
    skills = values["skills"]
    if not isinstance(skills, list) or not skills or not all(isinstance(s, str) for s in skills):
        errors["skills"] = "choose at least one queue"
    else:
        known = set(session.scalars(select(Queue.skill).where(Queue.skill.in_(skills))))
        unknown = sorted(set(skills) - known)
        if unknown:
            errors["skills"] = f"no queue with the skill {', '.join(repr(s) for s in unknown)}"
    language = values["language"]
    if language not in LANGUAGES:
        errors["language"] = f"one of {', '.join(LANGUAGES)}"
    active = values["active"]
    if not isinstance(active, bool):
        errors["active"] = "true or false"
    if errors:
        raise FieldErrors(errors)
    return {
        "name": name.strip(),
        "phone": phone,
        "skills": sorted(set(skills)),
        "language": language,
        "active": active,
    }


def _phone(
    session: Session, raw: Any, region: str, agent_id: int | None, *, will_be_active: bool, errors: dict[str, str]
) -> str | None:
    """The number in E.164; refused when it does not parse, or another active agent has it."""
    try:
        e164 = callable_number(raw if isinstance(raw, str) else "", region)
    except InvalidPhoneNumber:
        errors["phone"] = "not a phone number we can call (e.g. 06 12345678 or +31 6 12345678)"
        return None
    if not will_be_active:
        return e164
    duplicate = select(Agent.id).where(Agent.phone == e164, Agent.active.is_(True))
    if agent_id is not None:
        duplicate = duplicate.where(Agent.id != agent_id)
    if session.scalar(duplicate.limit(1)) is not None:
        errors["phone"] = PHONE_TAKEN
    return e164
