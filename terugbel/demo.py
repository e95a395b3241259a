"""`terugbel demo`: the whole product on a laptop, with the telephony simulator playing Twilio."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import click
import requests

from telephony.simulator import Simulator
from telephony.simulator.address import SimulatorAddress, remove_address, write_address
from terugbel.clock import SystemClock
from terugbel.db import Database
from terugbel.demo_agents import agents_at_their_desks, issue_agent_tokens
from terugbel.migrate import upgrade
from terugbel.redis_conn import connect_redis, release_embedded_redis
from terugbel.seed import AROUND_THE_CLOCK, DEMO_AGENTS, DEMO_PASSWORD, DEMO_STAFF, seed_demo
from terugbel.settings import Settings

DEMO_CALLER = "+31612345678"  # Pieter Bakker, a known caller of the seeded contact center
DEMO_SAYING = "mijn internet doet het niet"


def run_demo(settings: Settings, *, port: int, simulator_port: int) -> None:
    """Migrate, seed, start simulator + web app + worker, and stop them all on Ctrl-C."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database_url)
    upgrade(database.engine)
    with database.session() as session:
        now = SystemClock().now()
        seed_demo(session, now, settings.zone, hours=AROUND_THE_CLOCK)
        agent_tokens = issue_agent_tokens(session, now)
    database.dispose()

    # Start the embedded Redis here, so the web app and the worker share this one server.
    redis_client = connect_redis(settings)
    redis_client.ping()

    app_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PUBLIC_BASE_URL=settings.public_base_url or app_url)
    # `kill`, a service manager or `timeout` stop the demo with SIGTERM: treat it like Ctrl-C, so the
    # children are stopped too instead of being orphaned.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with _simulator(settings, simulator_port, env["PUBLIC_BASE_URL"]) as simulator:
            simulator_url = env["TERUGBEL_TWILIO_API_BASE_URL"] = simulator.rest_base_url
            with _processes(
                [
                    [sys.executable, "-m", "terugbel.cli", "serve", "--port", str(port)],
                    [sys.executable, "-m", "terugbel.cli", "worker"],
                ],
                env,
            ) as children:
                _wait_for_health(app_url, children)
                with (
                    agents_at_their_desks(simulator, app_url, agent_tokens),
                    _announced(settings, SimulatorAddress(app_url=app_url, simulator_url=simulator_url)),
                ):
                    _print_welcome(settings, app_url)
                    _wait_while_running(children)
    except KeyboardInterrupt:
        # Ctrl-C at any moment, starting up included: the context managers above stopped everything.
        click.echo("\nstopped.")
    finally:
        # The children are gone; the embedded Redis stops at our exit once it has seen them go.
        if not release_embedded_redis(redis_client):
            click.echo("another process still uses the embedded Redis; it keeps running.", err=True)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _print_welcome(settings: Settings, app_url: str) -> None:
    agents = ", ".join(spec.username for spec in DEMO_AGENTS)
    talk = settings.demo_talk_seconds
    click.echo(f"\nTerugbel is running: {app_url}/console/")
    for username, role in DEMO_STAFF:
        click.echo(f"  {role + ':':<11} {username} / {DEMO_PASSWORD}")
    click.echo(f"  agents:     {agents} / {DEMO_PASSWORD}")
    click.echo(f"  The agents are simulated: they answer, talk {talk} s (TERUGBEL_DEMO_TALK_SECONDS),")
    click.echo("  record an outcome and are available again.")
    click.echo(f"Health: {app_url}/healthz")
    click.echo("Place a call from another terminal, in this directory:")
    click.echo(f"  {demo_call_command(settings)}")
    click.echo("Ctrl-C stops everything.\n", nl=True)


def demo_call_command(settings: Settings) -> str:
    """The `simulate call` line a newcomer can paste: this installation's `terugbel`, the demo's data dir."""
    program = Path(sys.executable).parent / "terugbel"
    if program.is_relative_to(Path.cwd()):
        program = program.relative_to(Path.cwd())
    # `simulate` finds the demo through its data dir: one other than the default must come along.
    own_dir = settings.data_dir != (Path.cwd() / "var").resolve()
    data_dir = f"TERUGBEL_DATA_DIR={shlex.quote(str(settings.data_dir))} " if own_dir else ""
    return f'{data_dir}{shlex.quote(str(program))} simulate call --from {DEMO_CALLER} --say "{DEMO_SAYING}"'


@contextmanager
def _announced(settings: Settings, address: SimulatorAddress) -> Iterator[None]:
    """Tell `terugbel simulate` where this demo runs, for as long as it runs."""
    write_address(settings.data_dir, address)
    try:
        yield
    finally:
        remove_address(settings.data_dir, address)


@contextmanager
def _simulator(settings: Settings, port: int, app_url: str) -> Iterator[Simulator]:
    simulator = Simulator.for_demo(settings, port=port, app_url=app_url)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@contextmanager
def _processes(commands: list[list[str]], env: dict[str, str]) -> Iterator[list[subprocess.Popen[Any]]]:
    children = [subprocess.Popen(command, env=env, start_new_session=True) for command in commands]
    try:
        yield children
    finally:
        for child in children:
            with suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def _wait_for_health(app_url: str, children: list[subprocess.Popen[Any]]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise click.ClickException("a demo process stopped while starting; see its output above")
        with suppress(requests.RequestException):
            if requests.get(f"{app_url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise click.ClickException(f"the web app did not become healthy at {app_url}/healthz")


def _wait_while_running(children: list[subprocess.Popen[Any]]) -> None:
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    raise click.ClickException("a demo process stopped unexpectedly; see its output above")
