"""The `terugbel` command: serve, worker, db, user, token, seed, demo, simulate."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
import redis
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from console.tokens import UnknownAgent, create_token
from console.users import UserError, add_user
from telephony.cli import simulate
from terugbel.app import create_app
from terugbel.clock import SystemClock
from terugbel.db import Database
from terugbel.demo import run_demo
from terugbel.i18n import CatalogueError
from terugbel.logs import configure_logging_for
from terugbel.migrate import upgrade
from terugbel.runtime import build_runtime
from terugbel.seed import seed_demo
from terugbel.settings import Settings, SettingsError, load_settings
from terugbel.worker import run_worker


def fail(setting: str, problem: str) -> NoReturn:
    """Stop with one clear line naming the setting (never a traceback for bad configuration)."""
    click.echo(f"terugbel: {setting}: {problem}", err=True)
    sys.exit(2)


def settings_from_env() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(exc.setting, exc.problem)


@contextmanager
def cli_runtime(*, needs_redis: bool = True) -> Iterator[Any]:
    """A runtime for one command, with its connections checked first and released at the end."""
    runtime = runtime_from_env(needs_redis=needs_redis)
    try:
        _check_database(runtime)
        yield runtime
    finally:
        runtime.close()


def runtime_from_env(*, needs_redis: bool = True) -> Any:
    settings = settings_from_env()
    try:
        runtime = build_runtime(settings)
    except CatalogueError as exc:
        fail("message catalogues", str(exc))
    except SQLAlchemyError as exc:
        fail("DATABASE_URL", f"cannot be used ({type(exc).__name__})")
    except (redis.RedisError, OSError) as exc:
        fail("REDIS_URL", f"no Redis available ({type(exc).__name__}: {exc})")
    if needs_redis:
        try:
            runtime.redis.ping()
        except redis.RedisError as exc:
            fail("REDIS_URL", f"no Redis answers ({type(exc).__name__})")
    return runtime


def _check_database(runtime: Any) -> None:
    try:
        runtime.db.ping()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        fail("DATABASE_URL", f"cannot connect ({reason})")


@click.group()
def main() -> None:
    """Terugbel: problem-first IVR and guaranteed callbacks."""
    configure_logging_for(settings_from_env())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the web app with the development server (production: gunicorn, see README)."""
    with cli_runtime() as runtime:
        create_app(runtime=runtime).run(host=host, port=port, threaded=True, use_reloader=False)


@main.command()
@click.option("--burst", is_flag=True, help="Run the jobs that are due, then stop.")
def worker(burst: bool) -> None:
    """Run an RQ worker with the scheduler on the dial, sms and default queues."""
    with cli_runtime() as runtime:
        run_worker(runtime, burst=burst)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to the newest schema (or REVISION)."""
    settings = settings_from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database_url)
    try:
        upgrade(database.engine, revision)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        fail("DATABASE_URL", f"cannot migrate ({reason})")
    finally:
        database.dispose()
    click.echo(f"database at revision {revision}")


@main.group()
def user() -> None:
    """Console users."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["agent", "supervisor", "admin"]), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--language", type=click.Choice(["nl", "en"]), default="nl", show_default=True)
@click.option("--agent-id", type=int, default=None, help="Link the user to an agent (role agent).")
def user_add(username: str, role: str, password: str, language: str, agent_id: int | None) -> None:
    """Create a console user."""
    try:
        with cli_runtime(needs_redis=False) as runtime, runtime.db.session() as session:
            add_user(
                session,
                username=username,
                password=password,
                role=role,
                language=language,
                agent_id=agent_id,
                now=runtime.clock.now(),
            )
    except UserError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"user {username} ({role}) created")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--role", type=click.Choice(["agent", "supervisor", "admin"]), required=True)
@click.option("--name", required=True, help="Who or what uses the token (e.g. crm-sync).")
@click.option("--agent-id", type=int, default=None, help="The agent this token acts for (/api/me/*).")
def token_create(role: str, name: str, agent_id: int | None) -> None:
    """Create an API token and print it once; only its hash is stored."""
    try:
        with cli_runtime(needs_redis=False) as runtime, runtime.db.session() as session:
            secret = create_token(session, name=name, role=role, now=runtime.clock.now(), agent_id=agent_id)
    except UnknownAgent as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(secret)


@main.group()
def seed() -> None:
    """Example data."""


@seed.command("demo")
def seed_demo_command() -> None:
    """Load a small demo contact center (2 queues, 4 agents, intents, known callers)."""
    with cli_runtime(needs_redis=False) as runtime, runtime.db.session() as session:
        added = seed_demo(session, SystemClock().now(), runtime.settings.zone)
    click.echo("demo data: " + ", ".join(f"{count} {kind}" for kind, count in added.items()))


@main.command()
@click.option("--port", default=5000, show_default=True, type=int, help="Port of the web app.")
@click.option("--simulator-port", default=5099, show_default=True, type=int)
def demo(port: int, simulator_port: int) -> None:
    """Run everything on this laptop: migrate, seed, web app, worker and the telephony simulator."""
    run_demo(settings_from_env(), port=port, simulator_port=simulator_port)


main.add_command(simulate)


if __name__ == "__main__":
    main()
