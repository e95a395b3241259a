"""What callers can call about: intents that supervisors edit (name, queue, key, phrases per language)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.models import Intent, Queue
from terugbel.audit import record_audit

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
KEYS = tuple("12345678")
MAX_PHRASES = 50
MAX_PHRASE_LENGTH = 120
FIELDS = ("name", "label_nl", "label_en", "queue", "key", "phrases_nl", "phrases_en", "active")


class IntentInvalid(ValueError):
    """The intent cannot be saved; `errors` names each field and what is wrong with it."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class IntentNotFound(LookupError):
    """No intent with that id."""


def intent_view(session: Session, intent: Intent) -> dict[str, Any]:
    queue = session.get(Queue, intent.queue_id)
    return {
        "id": intent.id,
        "name": intent.name,
        "label_nl": intent.label_nl,
        "label_en": intent.label_en,
        "queue": queue.name if queue else None,
        "key": intent.key,
        "phrases_nl": list(intent.phrases_nl or []),
        "phrases_en": list(intent.phrases_en or []),
        "active": intent.active,
    }


def list_intents(session: Session) -> list[Intent]:
    return list(session.scalars(select(Intent).order_by(Intent.key.is_(None), Intent.key, Intent.name)))


def get_intent(session: Session, intent_id: int) -> Intent:
    intent = session.get(Intent, intent_id)
    if intent is None:
        raise IntentNotFound(f"intent {intent_id}")
    return intent


def create_intent(session: Session, data: Mapping[str, Any], *, actor: str, now: datetime) -> Intent:
    """Add an intent after checking every field; raise IntentInvalid naming the fields."""
    values = _validated(session, data, current=None)
    intent = Intent(**values)
    session.add(intent)
    session.flush()
    record_audit(session, at=now, actor=actor, action="intent.create", subject=f"intent {intent.name}",
                 details=_audit_details(values))  # fmt: skip
    return intent


def update_intent(session: Session, intent_id: int, data: Mapping[str, Any], *, actor: str, now: datetime) -> Intent:
    """Change the given fields of an intent; raise IntentInvalid naming the fields."""
    intent = get_intent(session, intent_id)
    values = _validated(session, data, current=intent)
    for name, value in values.items():
        setattr(intent, name, value)
    session.flush()
    record_audit(session, at=now, actor=actor, action="intent.update", subject=f"intent {intent.name}",
                 details=_audit_details(values))  # fmt: skip
    return intent


def delete_intent(session: Session, intent_id: int, *, actor: str, now: datetime) -> None:
    """Remove an intent; contacts keep their history (their intent becomes unknown)."""
    intent = get_intent(session, intent_id)
    record_audit(session, at=now, actor=actor, action="intent.delete", subject=f"intent {intent.name}")
    session.delete(intent)
    session.flush()


def _audit_details(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "queue_id"} | (
        {"queue_id": values["queue_id"]} if "queue_id" in values else {}
    )


def _validated(session: Session, data: Mapping[str, Any], *, current: Intent | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    creating = current is None
    for unknown in sorted(set(data) - set(FIELDS)):
        errors.setdefault(unknown, []).append("unknown field")
    for required in ("name", "label_nl", "label_en", "queue"):
        if creating and required not in data:
            errors.setdefault(required, []).append("is required")

    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not NAME.match(name):
            errors.setdefault("name", []).append(
                "use 1–60 lower-case letters, digits, - or _, starting with a letter or digit"
            )
        else:
            taken = session.scalar(select(Intent.id).where(Intent.name == name))
            if taken is not None and (current is None or taken != current.id):
                errors.setdefault("name", []).append(f"an intent named '{name}' already exists")
            values["name"] = name
    for label in ("label_nl", "label_en"):
        if label in data:
            text = data[label]
            if not isinstance(text, str) or not text.strip() or len(text) > 120:
                errors.setdefault(label, []).append("give a label of 1–120 characters")
            else:
                values[label] = text.strip()
    if "queue" in data:
        queue_name = data["queue"]
        queue = session.scalar(select(Queue).where(Queue.name == queue_name)) if isinstance(queue_name, str) else None
        if queue is None:
            known = ", ".join(session.scalars(select(Queue.name).order_by(Queue.name))) or "none"
            errors.setdefault("queue", []).append(f"no queue named '{queue_name}' (known: {known})")
        else:
            values["queue_id"] = queue.id
    if "key" in data:
        key = data["key"]
        if key in (None, ""):
            values["key"] = None
        elif not isinstance(key, str) or key not in KEYS:
            errors.setdefault("key", []).append("a key is one digit from 1 to 8 (0 is a person, 9 the language)")
        else:
            holder = session.scalar(select(Intent).where(Intent.key == key))
            if holder is not None and (current is None or holder.id != current.id):
                errors.setdefault("key", []).append(f"key {key} is already used by '{holder.name}'")
            values["key"] = key
    for field in ("phrases_nl", "phrases_en"):
        if field in data:
            phrases = data[field]
            if not isinstance(phrases, list) or len(phrases) > MAX_PHRASES:
                errors.setdefault(field, []).append(f"give a list of at most {MAX_PHRASES} phrases")
                continue
            cleaned = []
            for index, phrase in enumerate(phrases):
                if not isinstance(phrase, str) or not phrase.strip() or len(phrase) > MAX_PHRASE_LENGTH:
                    errors.setdefault(field, []).append(f"phrase {index + 1} must be 1–{MAX_PHRASE_LENGTH} characters")
                else:
                    cleaned.append(" ".join(phrase.split()))
            values[field] = list(dict.fromkeys(cleaned))
    if "active" in data:
        if not isinstance(data["active"], bool):
            errors.setdefault("active", []).append("true or false")
        else:
            values["active"] = data["active"]
    if errors:
        raise IntentInvalid(errors)
    return values
