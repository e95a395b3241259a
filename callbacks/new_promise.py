"""Write a new promise, its first transition and its confirmation text: one statement on PostgreSQL.

The ORM's flush would send three INSERTs, one round trip each, and spend more time in Python than
the database spends on them; a booking is the hot path of a busy hour, and its transaction holds a
place until it commits. On PostgreSQL the three rows go in one statement (data-modifying `WITH`
clauses, each taking the new promise's id from the first) and the objects are then made persistent
in the session as a flush would have left them. The promise is written only if its place is still
free as the statement starts: a booking that held the place committed before this one could claim
it, and the statement sees that commit where the claim, begun earlier, could not. On SQLite, where
a round trip costs nothing and every writer holds the database's write lock, the ORM flushes them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Insert, Select, Table, bindparam, exists, insert, select, true
from sqlalchemy.orm import Session, make_transient_to_detached

from callbacks.models import CallbackPromise, PromiseTransition
from telephony.models import SmsMessage
from terugbel.db import plain_rows

_PROMISES: Table = CallbackPromise.__table__  # type: ignore[assignment]
_TRANSITIONS: Table = PromiseTransition.__table__  # type: ignore[assignment]
_MESSAGES: Table = SmsMessage.__table__  # type: ignore[assignment]


def _written(table: Table) -> list[Column[Any]]:
    return [column for column in table.columns if not column.primary_key]


def _parameter(prefix: str, column: Column[Any]) -> Any:
    return bindparam(f"{prefix}{column.key}", type_=column.type)


def _child_insert(table: Table, prefix: str, promise_id: Any) -> Insert:
    columns = _written(table)
    values = [promise_id if column.key == "promise_id" else _parameter(prefix, column) for column in columns]
    return insert(table).from_select(columns, select(*values)).returning(table.c.id)


def _statement(with_text: bool) -> Select[Any]:
    columns = _written(_PROMISES)
    values = {column.key: _parameter("p_", column) for column in columns}
    place_taken = exists().where(_PROMISES.c.slot_id == values["slot_id"], _PROMISES.c.place == values["place"])
    promise = (
        insert(_PROMISES)
        .from_select(columns, select(*values.values()).where(~place_taken))
        .returning(_PROMISES.c.id)
        .cte("new_promise")
    )
    first = _child_insert(_TRANSITIONS, "t_", promise.c.id).cte("new_transition")
    if not with_text:
        return select(promise.c.id, first.c.id).select_from(promise.join(first, true()))
    text = _child_insert(_MESSAGES, "m_", promise.c.id).cte("new_text")
    return select(promise.c.id, first.c.id, text.c.id).select_from(promise.join(first, true()).join(text, true()))


# Built once, so SQLAlchemy compiles each once per process.
_WITHOUT_TEXT = _statement(with_text=False)
_WITH_TEXT = _statement(with_text=True)


def _complete(row: Any, table: Table) -> None:
    """Give every column the value a flush would have written: what was set, else the default."""
    for column in _written(table):
        if column.key not in row.__dict__:
            default = column.default
            if default is not None and not default.is_scalar:
                raise TypeError(f"{table.name}.{column.key} has a computed default: set it before writing")
            setattr(row, column.key, None if default is None else default.arg)


def _values(prefix: str, row: Any, table: Table) -> dict[str, Any]:
    columns = (column for column in _written(table) if column.key != "promise_id")
    return {f"{prefix}{column.key}": getattr(row, column.key) for column in columns}


def write_new_promise(session: Session, promise: CallbackPromise) -> bool:
    """Insert a new (transient) promise with its one transition and at most one text; the objects
    end up persistent in `session` with their ids, as after `session.add(promise); session.flush()`.

    Return False, writing nothing, when another promise holds the promise's place by now (PostgreSQL).
    """
    messages = list(promise.messages)
    if session.get_bind().dialect.name != "postgresql" or len(promise.transitions) != 1 or len(messages) > 1:
        session.add(promise)
        session.flush()
        return True
    [first] = promise.transitions
    rows: list[tuple[str, Any, Table]] = [("p_", promise, _PROMISES), ("t_", first, _TRANSITIONS)]
    rows += [("m_", message, _MESSAGES) for message in messages]
    params: dict[str, Any] = {}
    for prefix, row, table in rows:
        _complete(row, table)
        params |= _values(prefix, row, table)
    ids = plain_rows(session, _WITH_TEXT if messages else _WITHOUT_TEXT, params).first()
    if ids is None:
        return False
    promise.id = ids[0]
    for (_, row, _table), row_id in zip(rows[1:], ids[1:], strict=True):
        row.id = row_id
        row.promise_id = promise.id
    for _, row, _table in rows:
        make_transient_to_detached(row)
    session.add(promise)  # with its transition and text (the relationships cascade)
    return True
