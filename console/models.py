"""Users of the console and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from terugbel.db import Base


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    def includes(self, needed: Role) -> bool:
        """Admins can do what supervisors can, supervisors what agents can."""
        order = [Role.AGENT, Role.SUPERVISOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


_ROLES = "role IN ('agent', 'supervisor', 'admin')"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2
    role: Mapped[str] = mapped_column(String(12))
    language: Mapped[str] = mapped_column(String(2), default="nl")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), unique=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]

    __table_args__ = (CheckConstraint(_ROLES, name="role"),)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(12))
    # SHA-256 of the token: tokens are long random secrets, so a fast hash is enough and lets us
    # look a token up by its hash in one indexed query.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # An agent's own token: /api/me/* answers for this agent only.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint(_ROLES, name="role"),)
