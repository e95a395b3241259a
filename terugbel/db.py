"""The database: declarative base, engine and sessions (DESIGN.md §2, §4).

Services own their transactions: they take a `Database` (or a session from `db.session()`) and
commit or roll back themselves. Models live in each package's `models.py`.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, DateTime, Engine, Executable, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeDecorator

# Named constraints, so Alembic can drop and alter them by name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    # Bound values are callers' numbers and words: never in error messages or echoed statements.
    kwargs.setdefault("hide_parameters", True)
    if database_url.startswith("sqlite"):
        # One connection per checkout: SQLite locks the file, not the connection, and WAL with a busy
        # timeout lets the web app, workers and simulator share it.
        engine = create_engine(
            database_url,
            poolclass=NullPool,
            connect_args={"timeout": 30, "check_same_thread": False},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Python's sqlite3 opens transactions lazily; BEGIN IMMEDIATE (below) needs manual control.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Take the write lock at the start of every transaction: a read-then-write inside one
            # transaction can then never race with another writer (booking relies on this).
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(database_url, pool_pre_ping=True, pool_size=5, max_overflow=10, **kwargs)

    @event.listens_for(engine, "connect")
    def _utc_session(dbapi_connection: Any, _record: Any) -> None:
        # psycopg gives timestamps the fixed UTC offset only when the session's zone is named "UTC";
        # under a server default such as "Etc/UTC" every value is built with a ZoneInfo, several
        # times slower on the hot reads (a caller's history is a hundred timestamps).
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.autocommit = False

    return engine


class Database:
    """An engine and its session factory; one per process, passed to whoever needs it."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def statement_session(self) -> Iterator[Session]:
        """A session for work whose every write is one statement, so needs no transaction around it.

        On PostgreSQL each statement commits on its own: no BEGIN and COMMIT round trips, which on
        the busiest webhook (an incoming call: one read, one write) were a third of its round trips.
        On SQLite it is one transaction, as `session()` (whose BEGIN IMMEDIATE costs no round trip).
        Reads see committed data as of each statement, as in a READ COMMITTED transaction.
        """
        if self.is_sqlite:
            with self.session() as session:
                yield session
            return
        with self.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            with Session(bind=autocommit, expire_on_commit=False) as session, session.begin():
                yield session

    def new_session(self) -> Session:
        return self._sessions()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def plain_rows(
    session: Session, statement: Executable, params: Mapping[str, Any] | None = None, *, flush: bool = True
) -> PlainRows:
    """Run a statement that returns columns (never entities) on the session's connection, in its
    transaction, and return all its rows (named tuples).

    The ORM's row processing costs about a millisecond on a hundred rows; hot reads that name
    columns skip it. On PostgreSQL the statement also skips SQLAlchemy's execution machinery, which
    costs more client time than psycopg's own work on a short statement: it is compiled once per
    process and run on the driver's cursor, with the same bind and result processing. Whenever
    someone listens for cursor events (statement counters, tracing, tests that step into a
    transaction) it runs through SQLAlchemy instead, so they see every statement. Pending changes
    are flushed first, as the ORM's autoflush would, unless `flush` is False: a lock taken before
    the transaction writes anything must not wait while holding the row locks of a flush.
    """
    if flush:
        session.flush()
    connection = _connection(session)
    prebuilt = None
    if connection.dialect.name == "postgresql" and not connection.dispatch.before_cursor_execute:
        prebuilt = _prebuilt(statement, connection.dialect, params or {})
    if prebuilt is None:
        result = connection.execute(statement, params or {})
        return PlainRows(result.all() if result.returns_rows else [])
    driver = connection.connection.driver_connection
    try:
        return prebuilt.run(driver, params or {})
    except connection.dialect.loaded_dbapi.Error as exc:
        # As SQLAlchemy would: its exception classes (callers catch IntegrityError and
        # OperationalError), and a connection that was lost is not handed out again.
        lost = connection.dialect.is_disconnect(exc, driver, None)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            prebuilt.sql,
            params,
            exc,
            connection.dialect.loaded_dbapi.Error,
            hide_parameters=connection.engine.hide_parameters,
            connection_invalidated=lost,
            dialect=connection.dialect,
        ) from exc


_DATABASE_KEYS: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


def database_key(session: Session) -> str:
    """The database the session works on, for what a process keeps per database (configuration,
    slot coverage): its URL, so that every engine of the process on one database shares it."""
    engine = session.get_bind().engine
    key = _DATABASE_KEYS.get(engine)
    if key is None:
        # Rendered once per engine: hashing a URL renders it, and every offer asks.
        key = _DATABASE_KEYS[engine] = engine.url.render_as_string()
    return key


_CONNECTION = "terugbel.connection"


def _connection(session: Session) -> Connection:
    """`session.connection()`, kept while the session stays in the same transaction and savepoint:
    asking the session costs as much as a short statement's own client work.

    The savepoint is part of the key because the session emits a `begin_nested()`'s SAVEPOINT only
    when its connection is first asked for inside it: a connection kept from outside would run the
    statements outside the savepoint, and an error there could not be rolled back to it.
    """
    current = (session.get_transaction(), session.get_nested_transaction())
    kept = session.info.get(_CONNECTION)
    if current[0] is not None and kept is not None and kept[0] == current:
        return kept[1]  # type: ignore[no-any-return]
    connection = session.connection()
    session.info[_CONNECTION] = ((session.get_transaction(), session.get_nested_transaction()), connection)
    return connection


class PlainRows(list[Any]):
    """The rows of a statement, all fetched: what the callers of `plain_rows` ask of a Result."""

    def one(self) -> Any:
        if len(self) != 1:
            raise NoResultFound("no row") if not self else MultipleResultsFound(f"{len(self)} rows")
        return self[0]

    def first(self) -> Any:
        return self[0] if self else None

    def scalar(self) -> Any:
        return self[0][0] if self else None

    def all(self) -> list[Any]:
        return self


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection


class _Prebuilt:
    """A statement compiled once for PostgreSQL, ready for the driver's cursor."""

    def __init__(self, compiled: SQLCompiler, dialect: Dialect) -> None:
        self._compiled = compiled
        self.sql = compiled.string
        # IN lists of any length ("expanding" parameters) are spelled out per call.
        self._expanding = bool(compiled.post_compile_params or compiled.literal_execute_params)
        self._binds: Mapping[str, Any] = compiled._bind_processors
        columns = compiled._result_columns
        self._results = [
            (i, process)
            for i, entry in enumerate(columns)
            if (process := entry.type._cached_result_processor(dialect, None)) is not None
        ]
        self._row = self._row_maker([entry.keyname for entry in columns]) if columns else None

    @staticmethod
    def _row_maker(names: list[str]) -> Callable[[Any], Any]:
        return namedtuple("Row", names, rename=True)._make  # type: ignore[misc,attr-defined]

    def run(self, connection: Any, params: Mapping[str, Any]) -> PlainRows:
        values: MutableMapping[str, Any]
        binds: Mapping[str, Any]
        if self._expanding:
            state = self._compiled.construct_expanded_state(dict(params))
            sql, values, binds = state.statement, dict(state.parameters), state.processors
        else:
            sql, values, binds = self._compiled.string, self._compiled.construct_params(params), self._binds
        for name, process in binds.items():
            if name in values:  # None too: a JSON None is stored as JSON null, as SQLAlchemy does
                values[name] = process(values[name])
        with connection.cursor() as cursor:
            if connection.info.transaction_status == _IDLE and not connection.autocommit:
                # The transaction's first statement: psycopg's BEGIN goes with it, one round trip.
                with connection.pipeline():
                    cursor.execute(sql, values)
            else:
                cursor.execute(sql, values)
            if cursor.description is None:
                return PlainRows()
            rows = cursor.fetchall()
            if self._row is None:  # a text() statement: its columns are known once it has run
                self._row = self._row_maker([column.name for column in cursor.description])
        make = self._row
        if not self._results:
            return PlainRows(map(make, rows))
        processed = PlainRows()
        for row in rows:
            fields = list(row)
            for i, process in self._results:
                fields[i] = process(fields[i])
            processed.append(make(fields))
        return processed


_prebuilt_statements: dict[tuple[int, tuple[str, ...], Any], tuple[Executable, _Prebuilt | None]] = {}


def _prebuilt(statement: Executable, dialect: Dialect, params: Mapping[str, Any]) -> _Prebuilt | None:
    """The statement built for the driver's cursor, or None when only SQLAlchemy can run it: an
    INSERT or UPDATE that leaves columns to their Python-side defaults (SQLAlchemy fills them in)."""
    # Keyed by identity: hot statements are module constants, built once. The statement is kept
    # with its entry so its id cannot be reused by another object while the entry lives. An
    # INSERT or UPDATE without values() writes the columns it is given: one build per set of them.
    columns = tuple(sorted(params)) if getattr(statement, "is_dml", False) else ()
    key = (id(statement), columns, dialect.server_version_info)
    kept = _prebuilt_statements.get(key)
    if kept is not None and kept[0] is statement:
        return kept[1]
    compiled = statement.compile(dialect=dialect, column_keys=list(columns) or None)  # type: ignore[attr-defined]
    needs_defaults = bool(getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None))
    prebuilt = None if needs_defaults else _Prebuilt(compiled, dialect)
    if len(_prebuilt_statements) >= 512:
        _prebuilt_statements.clear()  # statements built per call: do not keep them all
    _prebuilt_statements[key] = (statement, prebuilt)
    return prebuilt
