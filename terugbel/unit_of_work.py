"""One transaction and what must follow its commit: the unit of work every service uses.

A service works in the `Session` it is given. What may only happen once its changes are committed
(enqueue a job, text a caller, steer a live call) it adds to the transaction's after-commit list
with `after_commit(session).add(action, key=...)`. `unit_of_work(runtime)` opens the transaction,
commits it, and then runs the actions in the order they were added. A rolled-back transaction runs
none of them: the exception leaves the block before they are taken.

An action added under the key of an earlier one replaces it, so the last word wins: a promise's
dial job scheduled and then unscheduled in one transaction is only unscheduled.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from terugbel.logs import get_logger

if TYPE_CHECKING:
    from terugbel.runtime import Runtime

log = get_logger(__name__)

AfterCommitAction = Callable[["Runtime"], None]
_SESSION_KEY = "terugbel.after_commit"


class AfterCommit:
    """The actions a transaction asks for once it has committed, in the order they were added."""

    def __init__(self) -> None:
        self._actions: dict[Hashable, AfterCommitAction] = {}

    def add(self, action: AfterCommitAction, *, key: Hashable | None = None) -> None:
        """Add `action`; under the key of an earlier action it replaces that one (and runs last)."""
        slot: Hashable = key if key is not None else object()
        self._actions.pop(slot, None)
        self._actions[slot] = action

    def actions(self) -> list[AfterCommitAction]:
        """The actions added, in the order they will run."""
        return list(self._actions.values())

    def __len__(self) -> int:
        return len(self._actions)

    def run(self, runtime: Runtime) -> None:
        """Run every action. One that fails is logged and the rest still run: the database holds
        what was committed, and the reconciler repairs a job or a text that did not go out."""
        for key, action in self._actions.items():
            try:
                action(runtime)
            except Exception:
                log.exception("after-commit action failed", action=str(key) if not _is_anonymous(key) else None)


def _is_anonymous(key: Hashable) -> bool:
    return type(key) is object


def after_commit(session: Session) -> AfterCommit:
    """The after-commit list of the session's transaction (created on first use)."""
    actions: AfterCommit | None = session.info.get(_SESSION_KEY)
    if actions is None:
        actions = session.info[_SESSION_KEY] = AfterCommit()
    return actions


def take_after_commit(session: Session) -> AfterCommit:
    """Return the session's after-commit list and forget it (the session's next work starts empty)."""
    actions: AfterCommit | None = session.info.pop(_SESSION_KEY, None)
    return actions if actions is not None else AfterCommit()


@contextmanager
def unit_of_work(runtime: Runtime) -> Iterator[Session]:
    """A transaction: committed when the block ends without an exception, then its actions run."""
    with runtime.db.session() as session:
        yield session
        actions = take_after_commit(session)
    actions.run(runtime)
