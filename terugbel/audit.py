"""The audit log: who changed what and when (rule sets, incidents, capacity, users)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from terugbel.db import Base


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def record_audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction."""
    entry = AuditEntry(at=at, actor=actor, action=action, subject=subject, details=details or {})
    session.add(entry)
    return entry
