"""Writing a new call: its caller when the number calls for the first time, its contact and its session.

Plain inserts, not the ORM: every incoming call takes this path, and the unit of work would cost more
than the rest of the request. On PostgreSQL one statement writes all of them; on SQLite one statement
each, in the session's transaction. A second request for the same CallSid fails on its unique key and
writes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Insert, Integer, bindparam, insert, null, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.models import CallSession
from routing.models import Caller, Contact


def insert_call(session: Session, values: dict[str, Any], *, new_caller: bool) -> None:
    """Write the call's contact and session, and its caller first when `new_caller`.

    `values` holds the binds of the statements; without a new caller, `caller_id` is the known caller's
    id or None (a withheld number).
    """
    connection = session.connection()
    if new_caller:
        values = {**values, "caller_number": values["number"], "caller_created_at": values["now"]}
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_WITH_NEW_CALLER if new_caller else _PG_KNOWN_CALLER, values)
        return
    if new_caller:
        values = {**values, "caller_id": connection.execute(_SQLITE_UPSERT_CALLER, values).scalar_one()}
    contact_id = connection.execute(_contact_insert(_CALLER_ID), values).scalar_one()
    connection.execute(
        _call_session_insert(bindparam("contact_id", type_=Integer), _CALLER_ID),
        {
            **values,
            "contact_id": contact_id,
        },
    )


_callers = Caller.__table__.c
_contacts = Contact.__table__.c
_sessions = CallSession.__table__.c
_CALLER_ID = bindparam("caller_id", type_=_contacts.caller_id.type)


def _caller_upsert(dialect_insert: Any) -> Insert:
    """INSERT of a caller by number that returns its id, also when a concurrent first call made it.

    The no-op update (number = number) makes RETURNING give the existing row's id on a conflict.
    Every column is named, with binds named unlike any column of callers: SQLAlchemy leaves column
    defaults unfilled inside a WITH on PostgreSQL, and adds any column whose name is a key of the
    executed parameters (the call's "number" and "language") as a bind of its own. The caller's
    language stays unknown until they choose one (ivr/commands.py keeps that choice).
    """
    statement = dialect_insert(Caller).values(
        number=bindparam("caller_number", type_=_callers.number.type),
        name=null(),
        language=null(),
        created_at=bindparam("caller_created_at", type_=_callers.created_at.type),
        vip=bindparam("not_vip", value=False, type_=_callers.vip.type),
        products=bindparam("no_products", value=[], type_=_callers.products.type),
    )
    return statement.on_conflict_do_update(
        index_elements=[_callers.number], set_={"number": statement.excluded.number}
    ).returning(_callers.id)


def _contact_insert(caller_id: ColumnElement[Any]) -> Insert:
    return (
        insert(Contact)
        .from_select(
            ["caller_id", "channel", "call_sid", "started_at", "path", "questions_asked", "outcome", "priority"],
            select(
                caller_id,
                bindparam("channel", type_=_contacts.channel.type),
                bindparam("call_sid", type_=_contacts.call_sid.type),
                bindparam("now", type_=_contacts.started_at.type),
                bindparam("path", type_=_contacts.path.type),
                bindparam("questions_asked", type_=_contacts.questions_asked.type),
                bindparam("outcome", type_=_contacts.outcome.type),
                bindparam("default_priority", value=_contacts.priority.default.arg, type_=Integer),
            ),
        )
        .returning(_contacts.id)
    )


def _call_session_insert(contact_id: ColumnElement[Any], caller_id: ColumnElement[Any]) -> Insert:
    columns = {
        "call_sid": bindparam("call_sid", type_=_sessions.call_sid.type),
        "caller_id": caller_id,
        "contact_id": contact_id,
        "number": bindparam("number", type_=_sessions.number.type),
        "language": bindparam("language", type_=_sessions.language.type),
        "step": bindparam("step", type_=_sessions.step.type),
        "data": bindparam("data", type_=_sessions.data.type),
        "answered_at": bindparam("now", type_=_sessions.answered_at.type),
        "updated_at": bindparam("now", type_=_sessions.updated_at.type),
        "last_status_sequence": bindparam(
            "first_status_sequence", value=_sessions.last_status_sequence.default.arg, type_=Integer
        ),
    }
    return insert(CallSession).from_select(list(columns), select(*columns.values()))


def _pg_call_statement(caller_id: ColumnElement[Any]) -> Insert:
    """PostgreSQL: the contact in a data-modifying WITH, the call session selecting its id."""
    new_contact = _contact_insert(caller_id).cte("new_contact")
    return _call_session_insert(select(new_contact.c.id).scalar_subquery(), caller_id).add_cte(new_contact)


_SQLITE_UPSERT_CALLER = _caller_upsert(sqlite.insert)
_PG_KNOWN_CALLER = _pg_call_statement(_CALLER_ID)
_NEW_CALLER = _caller_upsert(postgresql.insert).cte("new_caller")
_PG_WITH_NEW_CALLER = _pg_call_statement(select(_NEW_CALLER.c.id).scalar_subquery()).add_cte(_NEW_CALLER)
