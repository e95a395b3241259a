"""Console users: created with a role, passwords hashed with argon2."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.models import Role, User
from terugbel.i18n import message_id

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    """A user cannot be created or changed as asked: `field` names what, `message` (a console message
    id, `{name}` filled from `values`) says why; str() is "field: message" in English (the CLI's)."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(f"{field}: {message.format(**values)}")
        self.field, self.message, self.values = field, message, values


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    now: datetime,
    language: str = "nl",
    agent_id: int | None = None,
) -> User:
    """Create a console user; refuse unknown roles, short passwords and taken usernames."""
    username = username.strip()
    if not username:
        raise UserError("username", message_id("must not be empty"))
    try:
        parsed_role = Role(role)
    except ValueError:
        raise UserError("role", message_id("must be agent, supervisor or admin")) from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError("password", message_id("must be at least {count} characters"), count=MIN_PASSWORD_LENGTH)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError("username", message_id("'{username}' is taken"), username=username)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=parsed_role.value,
        language=language,
        agent_id=agent_id,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


@dataclass(frozen=True)
class LoginResult:
    """A login attempt's outcome; `user` is None when refused (then `locked_until` may say till when)."""

    user: User | None
    locked_until: datetime | None = None


def authenticate(session: Session, *, username: str, password: str, now: datetime) -> LoginResult:
    """Check a login; count failures and lock the account after MAX_FAILED_LOGINS in a row.

    Returns the refusal as a value instead of raising, so the failure count is committed.
    """
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        password_matches(_DUMMY_HASH, password)
        return LoginResult(user=None)
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(user=None, locked_until=user.locked_until)
    if not password_matches(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
            user.failed_logins = 0
            return LoginResult(user=None, locked_until=user.locked_until)
        return LoginResult(user=None)
    user.failed_logins = 0
    user.locked_until = None
    return LoginResult(user=user)


def set_user_language(session: Session, user_id: int, language: str) -> None:
    """Remember the console language a user chose (nl or en)."""
    if language not in ("nl", "en"):
        raise UserError("language", message_id("must be nl or en"))
    user = session.get(User, user_id)
    if user is not None:
        user.language = language


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def unlock_user(session: Session, user_id: int) -> User:
    """Lift a lock-out at once (an admin vouches for the user)."""
    user = session.get(User, user_id)
    if user is None:
        raise UserError("user", message_id("unknown"))
    user.locked_until = None
    user.failed_logins = 0
    return user
