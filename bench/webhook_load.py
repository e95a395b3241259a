"""Load benchmark of the incoming-call webhook: signed POST /twilio/voice against gunicorn.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/webhook_load.py

Seeds a realistic data set (100,000 callers, 1,000,000 contacts, 50 routing rules, 3 incidents, 8
intents) in a PostgreSQL schema of its own (created and dropped; without DATABASE_URL a SQLite file
in a temporary directory), starts gunicorn with the real app plus a baseline route in the same
server that returns a fixed <Say>, and drives both at rising concurrency. Prints requests per second
and p50/p99 latency of each and their ratio, then a paced run at a fixed rate (default 100/s).
Target: at least half the baseline's throughput, and p99 under 50 ms at 100 requests per second on
2 cores. Never run in CI or by the tests.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from terugbel.settings import SIMULATOR_AUTH_TOKEN  # noqa: E402

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday morning: every queue open
QUEUES = ("algemeen", "technisch", "facturen", "retentie", "zakelijk")
RULES = 50
INTENTS = 8
BASELINE_PATH = "/bench/baseline"


# --- the app gunicorn serves ----------------------------------------------------------------------


def bench_app() -> object:
    """The real app (settings from the environment) plus a baseline route with a fixed <Say>."""
    from flask import Response
    from twilio.twiml.voice_response import VoiceResponse

    from terugbel.app import create_app
    from terugbel.logs import configure_logging
    from terugbel.runtime import build_runtime

    configure_logging(logging.WARNING)  # an info line per request would measure the terminal
    app = create_app(runtime=build_runtime())
    fixed = VoiceResponse()
    fixed.say("Welkom bij Terugbel.", voice="Polly.Lotte", language="nl-NL")
    body = str(fixed)

    @app.post(BASELINE_PATH)
    def baseline() -> Response:
        return Response(body, content_type="text/xml; charset=utf-8")

    return app


# --- the data set ------------------------------------------------------------------------------------


def seed(url: str, callers: int, contacts: int) -> None:
    """Queues, hours, agents, intents, rules and incidents by the ORM; callers and contacts in bulk SQL."""
    from datetime import time as clock_time
    from datetime import timedelta

    import terugbel.schema  # noqa: F401  (every model, so Base.metadata is the whole schema)
    from routing.models import Agent, BusinessHours, Incident, Intent, Queue, Shift
    from routing.rule_sets import publish_rule_set
    from terugbel.db import Database
    from terugbel.migrate import upgrade
    db = Database(url)
    upgrade(db.engine)
    with db.session() as session:
        queues = [Queue(name=name, label=name.title(), skill=name) for name in QUEUES]
        session.add_all(queues)
        session.flush()
        for queue in queues:
            for weekday in range(7):
                session.add(
                    BusinessHours(queue_id=queue.id, weekday=weekday, opens=clock_time(0), closes=clock_time(23, 59))
                )
        for a in range(40):
            agent = Agent(name=f"Agent {a}", phone=f"+316{a:08d}", skills=[QUEUES[a % 5], QUEUES[(a + 1) % 5]],
                          state=["on_call", "wrap_up", "available", "away"][a % 4])  # fmt: skip
            session.add(agent)
            session.flush()
            session.add(
                Shift(agent_id=agent.id, starts_at=NOW - timedelta(hours=12), ends_at=NOW + timedelta(days=400))
            )
        for i in range(INTENTS):
            session.add(Intent(name=f"onderwerp{i}", label_nl=f"onderwerp {i}", label_en=f"topic {i}",
                               queue_id=queues[i % 5].id, key=str(i + 1) if i < 4 else None,
                               phrases_nl=[f"woord{i} klopt niet", f"probleem{i}"],
                               phrases_en=[f"word{i}"]))  # fmt: skip
        for i in range(3):
            session.add(Incident(title=f"Storing {i}", message_nl=f"Er is een storing in regio {i}.",
                                 message_en=f"There is an outage in region {i}.", match_prefixes=[f"+3161{i}99"],
                                 expected_fix_at=NOW + timedelta(hours=3), started_at=NOW - timedelta(hours=1),
                                 created_by="bench"))  # fmt: skip
        rules = []
        for i in range(RULES):
            conditions = [
                {"intent_in": [f"onderwerp{i % INTENTS}"]},
                {"number_prefix": [f"+3161{i % 10}"], "language": "nl"},
                {"repeat_count_at_least": 2 + i % 3},
                {"region": ["GB"], "intent_in": [f"onderwerp{(i + 1) % INTENTS}"]},
                {"queue_closed": QUEUES[i % 5]},
            ][i % 5]
            actions: dict = {"route_to_queue": QUEUES[(i * 3) % 5]}
            if i % 4 == 0:
                actions["raise_priority"] = 1
            rules.append({"name": f"Regel {i:02d}", "conditions": conditions, "actions": actions})
        publish_rule_set(session, rules, "bench", NOW, note=f"{RULES} rules")
    _bulk(db, callers, contacts)
    db.dispose()


def _bulk(db: object, callers: int, contacts: int) -> None:
    engine = db.engine  # type: ignore[attr-defined]
    postgres = engine.dialect.name == "postgresql"
    series = "generate_series(1, :n) AS s(g)" if postgres else "s"
    recursive = "" if postgres else "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) "
    digits = "lpad(g::text, 7, '0')" if postgres else "printf('%07d', g)"
    json_list = "'[\"internet\"]'::json" if postgres else "'[\"internet\"]'"
    now = "TIMESTAMPTZ '2026-11-23 09:00:00+00'" if postgres else "'2026-11-23 09:00:00.000000'"
    ago = (
        f"{now} - (g % 90) * INTERVAL '1 day' - (g % 600) * INTERVAL '1 minute'"
        if postgres
        else "strftime('%Y-%m-%d %H:%M:%f', '2026-11-23 09:00:00', '-' || (g % 90) || ' days', "
        "'-' || (g % 600) || ' minutes')"
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                f"{recursive}INSERT INTO callers (number, name, language, vip, products, created_at) "
                f"SELECT '+3161' || {digits}, 'Beller ' || g, CASE WHEN g % 10 = 0 THEN 'en' ELSE 'nl' END, "
                f"g % 50 = 0, {json_list}, {now} FROM {series}"
            ),
            {"n": callers},
        )
        first_caller = conn.execute(text("SELECT min(id) FROM callers")).scalar_one()
        first_intent = conn.execute(text("SELECT min(id) FROM intents")).scalar_one()
        first_queue = conn.execute(text("SELECT min(id) FROM queues")).scalar_one()
        conn.execute(
            text(
                f"{recursive}INSERT INTO contacts (caller_id, channel, intent_id, queue_id, outcome, path, priority, "
                "questions_asked, resolved, started_at, routed_at, ended_at) "
                f"SELECT :c + (g % :callers), 'call', :i + (g % {INTENTS}), :q + (g % 5), 'agent', '[]', 0, 1, "
                f"g % 5 <> 0, {ago}, {ago}, {ago} FROM {series}"
            ),
            {"n": contacts, "callers": callers, "c": first_caller, "i": first_intent, "q": first_queue},
        )
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


# --- the load ---------------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    latencies_ms: list[float]
    seconds: float
    errors: int

    def line(self) -> str:
        ordered = sorted(self.latencies_ms) or [float("nan")]
        p50 = ordered[len(ordered) // 2]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (f"{self.label:<28} {self.rps:8.1f} req/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   "
                f"({len(self.latencies_ms)} ok, {self.errors} errors)")  # fmt: skip

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


class Caller:
    """One simulated Twilio: signed POSTs of an incoming call from a random (mostly known) number."""

    def __init__(self, base_url: str, callers: int) -> None:
        self.base_url = base_url
        self.callers = callers
        self.validator = RequestValidator(SIMULATOR_AUTH_TOKEN)
        self.local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session  # type: ignore[no-any-return]

    def send(self, path: str) -> bool:
        number = random.randint(1, int(self.callers * 1.2))  # a sixth of the numbers are unknown
        params = {"CallSid": f"CA{uuid.uuid4().hex}", "AccountSid": "AC" + "5" * 32, "From": f"+3161{number:07d}",
                  "To": "+3197010000000", "CallStatus": "ringing", "Direction": "inbound"}  # fmt: skip
        url = self.base_url + path
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        response = self._session().post(url, data=params, headers=headers, timeout=10)
        return response.status_code == 200 and b"<Response>" in response.content


def closed_loop(client: Caller, path: str, concurrency: int, seconds: float, label: str) -> Result:
    """`concurrency` clients, each sending the next request as soon as the last is answered."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def work() -> None:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                ok = client.send(path)
            except requests.RequestException:
                ok = False
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(label, latencies, time.perf_counter() - started, errors[0])


def paced(client: Caller, path: str, rate: float, seconds: float, label: str) -> Result:
    """Requests started at a fixed rate (open loop), so a slow answer cannot slow the arrivals."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    total = int(rate * seconds)
    slots = threading.Semaphore(256)

    def one() -> None:
        t0 = time.perf_counter()
        try:
            ok = client.send(path)
        except requests.RequestException:
            ok = False
        elapsed = (time.perf_counter() - t0) * 1000
        with lock:
            if ok:
                latencies.append(elapsed)
            else:
                errors[0] += 1
        slots.release()

    started = time.perf_counter()
    threads = []
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing the load generator, not waiting for the app
        slots.acquire()
        thread = threading.Thread(target=one)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return Result(label, latencies, time.perf_counter() - started, errors[0])


# --- putting it together ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode} before answering")
        try:
            if requests.get(url, timeout=1).status_code in {200, 503}:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)  # bounded poll while gunicorn boots
    raise SystemExit(f"the server at {url} never answered")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--concurrency", default="1,2,4,8,16,32", help="comma-separated levels")
    parser.add_argument("--seconds", type=float, default=10.0, help="per level and endpoint")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second of the paced run")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL")
    data_dir = tempfile.TemporaryDirectory()
    schema = None
    admin = None
    if server_url:
        from terugbel.settings import load_settings

        base = load_settings({"DATABASE_URL": server_url}).database_url
        schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    else:
        url = f"sqlite:///{data_dir.name}/bench.sqlite3"
    server: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        seed(url, args.callers, args.contacts)
        print(f"seeded {args.callers:,} callers, {args.contacts:,} contacts, {RULES} rules, 3 incidents "
              f"in {time.perf_counter() - t0:.0f} s on {url.split(':', 1)[0]}")  # fmt: skip
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DATABASE_URL": url, "TERUGBEL_DATA_DIR": data_dir.name, "PUBLIC_BASE_URL": base_url}
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            env.pop(name, None)  # the simulator's account: the load generator signs with its token
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--threads", str(args.threads),
             "--bind", f"127.0.0.1:{port}", "--pythonpath", f"{ROOT},{ROOT / 'bench'}", "--log-level", "warning",
             "webhook_load:bench_app()"],
            env=env,
        )  # fmt: skip
        _wait_for(base_url + "/healthz", server)
        client = Caller(base_url, args.callers)
        for path in ("/twilio/voice", BASELINE_PATH):
            warm = closed_loop(client, path, 2, 2.0, "warm-up")
            if not warm.latencies_ms:
                raise SystemExit(f"{path} answered no request during the warm-up ({warm.errors} errors)")
        print(f"\nclosed loop, {args.seconds:g} s per level, gunicorn {args.workers} workers x {args.threads} threads")
        for level in [int(c) for c in args.concurrency.split(",") if c.strip()]:
            voice = closed_loop(client, "/twilio/voice", level, args.seconds, f"voice      c={level}")
            baseline = closed_loop(client, BASELINE_PATH, level, args.seconds, f"baseline   c={level}")
            print(voice.line())
            print(baseline.line())
            ratio = voice.rps / baseline.rps if baseline.rps else float("nan")
            print(f"{'':<28} voice/baseline throughput {ratio:.2f} (target >= 0.5)")
        print(f"\npaced at {args.rate:g} requests per second for {args.seconds:g} s")
        voice = paced(client, "/twilio/voice", args.rate, args.seconds, "voice      paced")
        baseline = paced(client, BASELINE_PATH, args.rate, args.seconds, "baseline   paced")
        print(voice.line())
        print(baseline.line())
        ordered = sorted(voice.latencies_ms) or [float("inf")]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(f"{'':<28} voice p99 {p99:.1f} ms (target < 50 ms)")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if admin is not None and schema is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        data_dir.cleanup()


if __name__ == "__main__":
    main()
