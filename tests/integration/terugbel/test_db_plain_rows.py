"""`plain_rows`: column reads on the session's connection must give what the session gives, in the
session's own transaction, and stay visible to cursor listeners."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, bindparam, event, insert, select, text
from sqlalchemy.exc import IntegrityError, MultipleResultsFound, NoResultFound

from callbacks.models import CallbackSlot
from terugbel.db import Database, plain_rows

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

_BY_IDS = select(CallbackSlot.id, CallbackSlot.starts_at, CallbackSlot.capacity_override, CallbackSlot.closed).where(
    CallbackSlot.id.in_(bindparam("ids", expanding=True))
)
_FIRST_OPEN = (
    select(CallbackSlot.starts_at, CallbackSlot.ends_at)
    .where(CallbackSlot.queue_id == bindparam("queue_id"), CallbackSlot.closed.is_(False))
    .order_by(CallbackSlot.starts_at)
    .limit(bindparam("limit"))
)
_AFTER = select(CallbackSlot.id).where(CallbackSlot.starts_at >= bindparam("since", type_=CallbackSlot.starts_at.type))
_NO_DOCUMENT = select(bindparam("doc", type_=JSON).is_(None).label("is_null"))
_COUNTED = text("SELECT count(*) AS slots, max(capacity) AS most FROM callback_slots WHERE queue_id = :queue_id")
_NEW_SLOT = insert(CallbackSlot).returning(CallbackSlot.id)
_NEW_OPEN_SLOT = (
    insert(CallbackSlot)
    .values(
        queue_id=bindparam("queue_id"),
        starts_at=bindparam("starts_at", type_=CallbackSlot.starts_at.type),
        ends_at=bindparam("ends_at", type_=CallbackSlot.ends_at.type),
        capacity=1,
        closed=False,
    )
    .returning(CallbackSlot.id)
)


@pytest.fixture
def slots(db: Database, make_queue: Callable[..., Any]) -> list[int]:
    queue = make_queue()
    with db.session() as session:
        rows = [
            CallbackSlot(
                queue_id=queue.id,
                starts_at=START + timedelta(minutes=15 * n),
                ends_at=START + timedelta(minutes=15 * (n + 1)),
                capacity=n,
                capacity_override=None if n % 2 else n + 10,
                closed=n == 1,
            )
            for n in range(4)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _through_sqlalchemy(db: Database, statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with db.session() as session:
        return [tuple(row) for row in session.execute(statement, params)]


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        (_BY_IDS, lambda ids: {"ids": ids}),
        (_BY_IDS, lambda ids: {"ids": ids[:1]}),
        (_BY_IDS, lambda ids: {"ids": []}),
        (_FIRST_OPEN, lambda ids: {"queue_id": 1, "limit": 2}),
        (_AFTER, lambda ids: {"since": (START + timedelta(minutes=30)).astimezone(UTC)}),
        (_COUNTED, lambda ids: {"queue_id": 1}),
        (_NO_DOCUMENT, lambda ids: {"doc": None}),
    ],
    ids=["in-list", "in-one", "in-none", "limit", "timestamp-bind", "text", "json-none"],
)
def test_plain_rows_give_what_sqlalchemy_gives(
    db: Database, slots: list[int], statement: Any, params: Callable[[list[int]], dict[str, Any]]
) -> None:
    expected = _through_sqlalchemy(db, statement, params(slots))
    for _ in range(2):  # and the same again from SQLAlchemy's compiled cache
        with db.session() as session:
            rows = plain_rows(session, statement, params(slots))
        assert [tuple(row) for row in rows] == expected
        assert all(value.tzinfo is UTC for row in rows for value in row if isinstance(value, datetime))


def test_plain_rows_are_named_and_answer_like_a_result(db: Database, slots: list[int]) -> None:
    with db.session() as session:
        first = plain_rows(session, _BY_IDS, {"ids": slots[:1]}).one()
        assert (first.id, first.starts_at, first.capacity_override, first.closed) == (slots[0], START, 10, False)
        counted = plain_rows(session, _COUNTED, {"queue_id": 1}).one()
        assert (counted.slots, counted.most) == (4, 3)
        assert plain_rows(session, _BY_IDS, {"ids": slots}).scalar() == slots[0]
        assert plain_rows(session, _BY_IDS, {"ids": []}).scalar() is None
        assert plain_rows(session, _BY_IDS, {"ids": []}).first() is None
        with pytest.raises(NoResultFound):
            plain_rows(session, _BY_IDS, {"ids": []}).one()
        with pytest.raises(MultipleResultsFound):
            plain_rows(session, _BY_IDS, {"ids": slots}).one()


def test_plain_rows_run_in_the_session_s_transaction(db: Database, slots: list[int]) -> None:
    values = {"queue_id": 1, "starts_at": START + timedelta(days=1), "ends_at": START + timedelta(days=1, minutes=15)}
    with db.new_session() as session:
        new_id = plain_rows(session, _NEW_SLOT, values).scalar()
        assert plain_rows(session, _BY_IDS, {"ids": [new_id]}).one().id == new_id  # seen by its own transaction
        session.rollback()
        assert plain_rows(session, _BY_IDS, {"ids": [new_id]}) == []  # gone with it, in the next transaction
        kept_id = plain_rows(session, _NEW_SLOT, values).scalar()
        session.commit()
    with db.session() as session:
        assert session.get(CallbackSlot, kept_id) is not None


def test_plain_rows_flush_pending_changes_first_unless_told_not_to(db: Database, slots: list[int]) -> None:
    with db.session() as session:
        session.get(CallbackSlot, slots[0]).closed = True
        assert plain_rows(session, _BY_IDS, {"ids": slots[:1]}, flush=False).one().closed is False  # a lock's way
        assert plain_rows(session, _BY_IDS, {"ids": slots[:1]}).one().closed is True


def test_a_cursor_listener_sees_every_plain_rows_statement(db: Database, slots: list[int]) -> None:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        with db.session() as session:
            rows = plain_rows(session, _COUNTED, {"queue_id": 1})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert [tuple(row) for row in rows] == [(4, 3)]
    assert [statement for statement in seen if "count(*)" in statement] != []


def test_a_failing_plain_rows_statement_raises_sqlalchemy_s_error_and_keeps_the_transaction(
    db: Database, slots: list[int]
) -> None:
    """A booking retries when its write loses a race to a unique index: it catches IntegrityError."""
    taken = {"queue_id": 1, "starts_at": START, "ends_at": START + timedelta(minutes=15)}
    free = {**taken, "starts_at": START + timedelta(days=2), "ends_at": START + timedelta(days=2, minutes=15)}
    with db.session() as session:
        with pytest.raises(IntegrityError), session.begin_nested():
            plain_rows(session, _NEW_OPEN_SLOT, taken)
        new_id = plain_rows(session, _NEW_OPEN_SLOT, free).scalar()
    with db.session() as session:
        assert session.get(CallbackSlot, new_id) is not None


def test_a_transaction_s_first_plain_rows_statement_is_inside_the_transaction(db: Database, slots: list[int]) -> None:
    """The transaction's first statement must not commit alone."""
    values = {"queue_id": 1, "starts_at": START + timedelta(days=3), "ends_at": START + timedelta(days=3, minutes=15)}
    with db.new_session() as session:
        new_id = plain_rows(session, _NEW_OPEN_SLOT, values).scalar()
        session.rollback()
    with db.session() as session:
        assert session.get(CallbackSlot, new_id) is None


def test_plain_rows_inside_a_savepoint_begun_after_earlier_statements_roll_back_with_it(
    db: Database, slots: list[int]
) -> None:
    """A booking locks first, then tries its write in a savepoint: the savepoint must really be there,
    so that the write's failure (and everything else inside it) rolls back and the locks stay."""
    taken = {"queue_id": 1, "starts_at": START, "ends_at": START + timedelta(minutes=15)}
    inside = {**taken, "starts_at": START + timedelta(days=4), "ends_at": START + timedelta(days=4, minutes=15)}
    after = {**taken, "starts_at": START + timedelta(days=5), "ends_at": START + timedelta(days=5, minutes=15)}
    with db.session() as session:
        assert len(plain_rows(session, _BY_IDS, {"ids": slots})) == 4  # the transaction's first statement
        with pytest.raises(IntegrityError), session.begin_nested():
            inside_id = plain_rows(session, _NEW_OPEN_SLOT, inside).scalar()
            plain_rows(session, _NEW_OPEN_SLOT, taken)
        assert plain_rows(session, _BY_IDS, {"ids": [inside_id]}) == []  # rolled back with the savepoint
        plain_rows(session, _NEW_OPEN_SLOT, after)  # the transaction goes on
    with db.session() as session:
        later = select(CallbackSlot.starts_at).where(CallbackSlot.starts_at > START + timedelta(days=1))
        kept = session.scalars(later).all()
        assert kept == [after["starts_at"]]  # SQLite may give the rolled-back id again: compare starts


def test_a_database_error_does_not_carry_the_values_it_was_given(db: Database, slots: list[int]) -> None:
    """Bound values are callers' numbers and words: an error that ends in a log must not list them.
    (PostgreSQL's own detail names a clashing key; the logs mask the numbers in it.)"""
    taken = {"queue_id": 1, "starts_at": START, "ends_at": START + timedelta(minutes=15)}

    def through_sqlalchemy(session: Any) -> None:
        session.execute(_NEW_OPEN_SLOT, taken)

    def through_plain_rows(session: Any) -> None:
        plain_rows(session, _NEW_OPEN_SLOT, taken)

    for run in (through_sqlalchemy, through_plain_rows):
        with db.session() as session, pytest.raises(IntegrityError) as raised, session.begin_nested():
            run(session)
        assert "[parameters:" not in str(raised.value) and "parameters hidden" in str(raised.value)
