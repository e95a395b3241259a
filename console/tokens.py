"""API tokens: long random secrets, shown once, stored as a SHA-256 hash, each with a role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.models import ApiToken, Role
from routing.models import Agent

TOKEN_PREFIX = "tb_"


class UnknownRole(ValueError):
    """The role is not agent, supervisor or admin."""


@dataclass(frozen=True)
class TokenIdentity:
    token_id: int
    name: str
    role: Role
    agent_id: int | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UnknownAgent(LookupError):
    """The token was to act for an agent that does not exist."""


def create_token(session: Session, *, name: str, role: str, now: datetime, agent_id: int | None = None) -> str:
    """Create a token and return its secret; only its hash is kept, so it cannot be shown again.

    With `agent_id` the token acts for that agent: /api/me/* shows that agent's callbacks only.
    """
    try:
        parsed_role = Role(role)
    except ValueError:
        raise UnknownRole(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if agent_id is not None and session.get(Agent, agent_id) is None:
        raise UnknownAgent(f"agent {agent_id} does not exist")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(name=name, role=parsed_role.value, token_hash=hash_token(secret), created_at=now, agent_id=agent_id)
    )
    return secret


def identify_token(session: Session, secret: str, now: datetime) -> TokenIdentity | None:
    """The identity behind a presented token, or None if it is unknown or revoked."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    token.last_used_at = now
    return TokenIdentity(token_id=token.id, name=token.name, role=Role(token.role), agent_id=token.agent_id)


class UnknownToken(LookupError):
    """No token with that id."""


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, newest first (hashes only: secrets are never stored)."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    """Refuse the token from now on; it stays listed, marked revoked."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise UnknownToken(token_id)
    if token.revoked_at is None:
        token.revoked_at = now
    return token
