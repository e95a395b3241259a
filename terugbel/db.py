"""The database: declarative base, engine and sessions.

Services own their transactions: they take a `Database` (or a session from `db.session()`) and
commit or roll back themselves. Models live in each package's `models.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import CursorResult, DateTime, Engine, Executable, MetaData, UpdateBase, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
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

    Pending changes are flushed first, as the ORM's autoflush would, unless `flush` is False: a
    lock taken before the transaction writes anything must not wait while holding the row locks
    of a flush.
    """
    if flush:
        session.flush()
    result = session.connection().execute(statement, params or {})
    return PlainRows(result.all() if result.returns_rows else [])


_DATABASE_KEYS: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


def database_key(session: Session) -> str:
    """The database the session works on, for what a process keeps per database (configuration):
    its URL, so that every engine of the process on one database shares it."""
    engine = session.get_bind().engine
    key = _DATABASE_KEYS.get(engine)
    if key is None:
        # Rendered once per engine: hashing a URL renders it, and every configuration read asks.
        key = _DATABASE_KEYS[engine] = engine.url.render_as_string()
    return key


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


def rows_changed(session: Session, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE in the session's transaction and return how many rows it matched."""
    result = session.execute(statement)
    # The session answers every DML statement with a cursor result; its declared type is the general one.
    assert isinstance(result, CursorResult)
    return result.rowcount
