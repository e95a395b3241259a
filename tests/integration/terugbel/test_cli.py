"""The terugbel command: clear one-line errors for bad settings, tokens, users, the demo seed."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from routing.config import load_center_config
from routing.live_state import agents_on_shift
from routing.models import Agent, Caller, Contact, Intent, Queue
from terugbel.cli import main
from terugbel.seed import AROUND_THE_CLOCK, seed_demo
from terugbel.settings import Settings


def _env(settings: Settings) -> dict[str, str]:
    env = {"TERUGBEL_DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url}
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    return env


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"DATABASE_URL": "::nonsense::"}, "terugbel: DATABASE_URL: cannot be parsed"),
        ({"TERUGBEL_DEFAULT_REGION": "QQ"}, "terugbel: TERUGBEL_DEFAULT_REGION: unknown region code 'QQ'"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, "terugbel: REDIS_URL: no Redis answers"),
        ({"TERUGBEL_LOG_LEVEL": "chatty"}, "terugbel: TERUGBEL_LOG_LEVEL: must be one of DEBUG, INFO"),
        ({"TERUGBEL_LOG_FORMAT": "xml"}, "terugbel: TERUGBEL_LOG_FORMAT: must be one of console, json"),
    ],
)
def test_bad_settings_stop_the_cli_with_one_line(tmp_path: Path, env: dict[str, str], line: str) -> None:
    full_env = {"PATH": "/usr/bin:/bin", "TERUGBEL_DATA_DIR": str(tmp_path), **env}
    result = subprocess.run(
        [sys.executable, "-m", "terugbel.cli", "worker", "--burst"],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(line)
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line_too(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "TERUGBEL_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    result = subprocess.run(
        [sys.executable, "-m", "terugbel.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("terugbel: DATABASE_URL: cannot migrate")
    assert "Traceback" not in result.stderr


def test_token_create_prints_a_token_that_the_api_accepts(settings: Settings, db: Any, client: Any) -> None:
    result = CliRunner().invoke(main, ["token", "create", "--role", "supervisor", "--name", "crm"], env=_env(settings))
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    response = client.get("/api/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert response.json == {"name": "crm", "role": "supervisor"}


def test_user_add_refuses_a_short_password(settings: Settings, db: Any) -> None:
    result = CliRunner().invoke(
        main, ["user", "add", "karin", "--role", "supervisor", "--password", "short"], env=_env(settings)
    )
    assert result.exit_code != 0
    assert "password: must be at least 10 characters" in result.output


def test_seed_demo_is_safe_to_run_twice(settings: Settings, db: Any) -> None:
    for _ in range(2):
        result = CliRunner().invoke(main, ["seed", "demo"], env=_env(settings))
        assert result.exit_code == 0, result.output
    with db.session() as session:
        counts = {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Queue, Agent, Intent, Caller, Contact)
        }
    assert counts == {"Queue": 2, "Agent": 4, "Intent": 4, "Caller": 3, "Contact": 1}


@pytest.mark.parametrize("local_time", ["22:30", "03:00", "07:59"])
def test_the_demo_center_takes_calls_at_any_hour(db: Any, local_time: str) -> None:
    """Somebody trying `make demo` in the evening reaches an agent, not "we are closed"."""
    zone = ZoneInfo("Europe/Amsterdam")
    moment = datetime.combine(date(2026, 12, 3), time.fromisoformat(local_time), zone)
    with db.session() as session:
        seed_demo(session, moment, zone, hours=AROUND_THE_CLOCK)
    with db.session() as session:
        queues = load_center_config(session).queues
        on_shift = agents_on_shift(session, moment)
    assert queues and all(queue.is_open(moment) for queue in queues)
    assert len(on_shift) == 4
