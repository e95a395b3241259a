"""Supervisors' administration of callers: finding them, and correcting their name, language and VIP.

Callers are created by their first call (ivr/new_call.py); here a supervisor finds one by number
(any spelling, parsed to E.164) or by a part of the name or number, each with how many contacts
they had and the last few, and changes what the menu and routing read of them. A VIP caller gets
priority in the queue (routing/decision.py). Every change is audited by the fields it changed,
never by the name it set. A search reads three statements whatever it finds: the callers, their
contact counts, their last contacts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from routing.models import Agent, Caller, Contact, Intent, Language, Queue
from terugbel.audit import record_audit
from terugbel.phone import try_e164
from terugbel.validation import FieldErrors, NotFound

LAST_CONTACTS = 5  # contacts shown with each caller found
SEARCH_LIMIT = 50  # callers a search by part of name or number shows at most
NAME_MAX = 120  # the column's length
QUERY_MAX = 120
LANGUAGES = tuple(language.value for language in Language)
EDITABLE = ("name", "language", "vip")

# Characters no name or search holds (PostgreSQL refuses NUL in text, a name never has the others).
CONTROL_CHARACTERS = re.compile(r"[\u0000-\u001f\u007f]")
_NUMBER_LIKE = re.compile(r"^[\d\s+().\-/]+$")
_MIN_NUMBER_DIGITS = 3


@dataclass(frozen=True)
class LastContact:
    contact_id: int
    started_at: datetime
    channel: str
    intent: str | None
    queue: str | None
    agent_name: str | None
    outcome: str
    resolved: bool | None


@dataclass(frozen=True)
class CallerSummary:
    """A caller as the administration shows them: what we keep, and their contacts in short."""

    id: int
    number: str
    name: str | None
    language: str | None
    vip: bool
    products: list[str]
    created_at: datetime
    contacts_count: int
    last_contacts: list[LastContact] = field(default_factory=list)


def find_by_number(session: Session, raw: str, region: str = "NL") -> list[CallerSummary]:
    """The caller with this number (any spelling, read in `region` without a +country): 0 or 1."""
    e164 = try_e164(raw, region)
    if e164 is None:
        raise FieldErrors({"number": "not a phone number"})
    return _summaries(session, Caller.number == e164)


def search_callers(session: Session, text: str, limit: int = SEARCH_LIMIT) -> list[CallerSummary]:
    """Callers whose name holds `text` (any case) or whose number holds its digits, by name."""
    words = text.strip()
    if not words:
        raise FieldErrors({"q": "give a part of a name or a number"})
    if len(text) > QUERY_MAX or CONTROL_CHARACTERS.search(text):
        raise FieldErrors({"q": f"at most {QUERY_MAX} characters, no control characters"})
    matches: list[ColumnElement[bool]] = [Caller.name.icontains(words, autoescape=True)]
    matches += [Caller.number.contains(digits, autoescape=True) for digits in _number_parts(words)]
    return _summaries(session, or_(*matches), limit)


def caller_summary(session: Session, caller_id: int) -> CallerSummary:
    """One caller with their contact count and last contacts; NotFound when there is none."""
    found = _summaries(session, Caller.id == caller_id)
    if not found:
        raise NotFound(f"caller {caller_id}")
    return found[0]


def update_caller(
    session: Session, caller_id: int, changes: Mapping[str, Any], *, actor: str, now: datetime
) -> CallerSummary:
    """Change the caller's name, language and/or VIP, all or nothing, audited without the name."""
    clean = validate_caller_changes(changes)
    caller = session.get(Caller, caller_id)
    if caller is None:
        raise NotFound(f"caller {caller_id}")
    changed = sorted(key for key, value in clean.items() if getattr(caller, key) != value)
    for key in changed:
        setattr(caller, key, clean[key])
    if changed:
        details: dict[str, Any] = {"changed": changed}
        details.update({key: clean[key] for key in changed if key != "name"})  # never the name itself
        record_audit(
            session, at=now, actor=actor, action="caller.update", subject=f"caller:{caller_id}", details=details
        )
        session.flush()
    return caller_summary(session, caller_id)


def validate_caller_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes as stored (a blank name is no name), or FieldErrors naming every wrong field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key in changes:
        if key not in EDITABLE:
            errors[key] = "not a field that can be changed"
    if "name" in changes:
        name = changes["name"]
        if name is not None and not isinstance(name, str):
            errors["name"] = "a text or null"
        else:
            name = name or ""
            if len(name) > NAME_MAX:
                errors["name"] = f"at most {NAME_MAX} characters"
            elif CONTROL_CHARACTERS.search(name):
                errors["name"] = "no control characters"
            clean["name"] = name.strip() or None
    if "language" in changes:
        language = changes["language"] or None
        if language is not None and language not in LANGUAGES:
            errors["language"] = f"one of {', '.join(LANGUAGES)}, or null"
        clean["language"] = language
    if "vip" in changes:
        if not isinstance(changes["vip"], bool):
            errors["vip"] = "true or false"
        clean["vip"] = changes["vip"]
    if errors:
        raise FieldErrors(errors)
    return clean


def _number_parts(words: str) -> list[str]:
    """The digits a number that holds `words` holds: "06 1234" is in "+31612345678" as "612 34"."""
    if not _NUMBER_LIKE.match(words):
        return []
    digits = "".join(ch for ch in words if ch.isdigit())
    if len(digits) < _MIN_NUMBER_DIGITS:
        return []
    if digits.startswith("00"):  # international prefix: the country code follows
        return [digits[2:]]
    if digits.startswith("0") and not words.lstrip().startswith("+"):  # national prefix: dropped in E.164
        return [digits[1:]]
    return [digits]


def _summaries(session: Session, where: ColumnElement[bool], limit: int | None = None) -> list[CallerSummary]:
    statement = select(Caller).where(where).order_by(Caller.name.is_(None), Caller.name, Caller.id)
    if limit is not None:
        statement = statement.limit(limit)
    callers = list(session.scalars(statement))
    if not callers:
        return []
    ids = [caller.id for caller in callers]
    counted = select(Contact.caller_id, func.count()).where(Contact.caller_id.in_(ids)).group_by(Contact.caller_id)
    counts: dict[int | None, int] = {caller_id: count for caller_id, count in session.execute(counted)}
    last = _last_contacts(session, ids)
    return [
        CallerSummary(
            id=caller.id,
            number=caller.number,
            name=caller.name,
            language=caller.language,
            vip=bool(caller.vip),
            products=list(caller.products or []),
            created_at=caller.created_at,
            contacts_count=counts.get(caller.id, 0),
            last_contacts=last.get(caller.id, []),
        )
        for caller in callers
    ]


def _last_contacts(session: Session, caller_ids: Sequence[int]) -> dict[int, list[LastContact]]:
    """The last LAST_CONTACTS contacts of each caller, newest first, in one statement."""
    position = (
        func.row_number()
        .over(partition_by=Contact.caller_id, order_by=(Contact.started_at.desc(), Contact.id.desc()))
        .label("position")
    )
    ranked = select(Contact.id, position).where(Contact.caller_id.in_(caller_ids)).subquery("ranked")
    rows = session.execute(
        select(
            Contact.caller_id,
            Contact.id,
            Contact.started_at,
            Contact.channel,
            Intent.name.label("intent"),
            Queue.name.label("queue"),
            Agent.name.label("agent_name"),
            Contact.outcome,
            Contact.resolved,
        )
        .join(ranked, ranked.c.id == Contact.id)
        .outerjoin(Intent, Intent.id == Contact.intent_id)
        .outerjoin(Queue, Queue.id == Contact.queue_id)
        .outerjoin(Agent, Agent.id == Contact.agent_id)
        .where(ranked.c.position <= LAST_CONTACTS)
        .order_by(Contact.caller_id, Contact.started_at.desc(), Contact.id.desc())
    )
    last: dict[int, list[LastContact]] = {}
    for row in rows:
        last.setdefault(row.caller_id, []).append(
            LastContact(
                contact_id=row.id,
                started_at=row.started_at,
                channel=row.channel,
                intent=row.intent,
                queue=row.queue,
                agent_name=row.agent_name,
                outcome=row.outcome,
                resolved=row.resolved,
            )
        )
    return last
