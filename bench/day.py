"""A day in the life: one working day of a mid-size center, from an empty database, time compressed.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/helper_bench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/day.py --scale 1.0 --factor 40

PostgreSQL + Redis, gunicorn and 4 RQ worker processes, the telephony simulator in this process. The
center is set up only through its public interfaces: a supervisor token from the CLI (`terugbel token
create`), then POST /api/queues, /api/agents, /api/shifts, /api/intents, and agent tokens from the CLI
for the agents' desks. The day runs through the simulator: inbound calls with a morning peak, 30 %
repeat callers, an outage at 10:00 (POST /api/incidents) that triples the calls about internet for an
hour, callers who take a callback (answered 70 % by a person, 20 % by voicemail, 10 % not at all), a
shift dropped at noon (DELETE /api/shifts/{id}). Agents answer on the simulator's phones and record
outcomes and their state through /api/me.

Simulated time runs `--factor` times faster than real time: this process publishes it in Redis, the
workers and gunicorn read it there (terugbel/worker.py SharedTestClock). `--scale` is the fraction
of the day's call volume (agents scale with it, at least 3).

Prints: promises kept inside their window, promises broken without an SMS naming a new time before
the window ended, duplicate dials, webhook latency at the simulator (real ms), callers matching the
outage who heard it before any question, first-contact resolution, questions before an answer.
THE GIVEN REDIS DATABASE IS FLUSHED. On PostgreSQL it works in a schema of its own (dropped after).
Never run in CI or by the tests.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402
from webhook_load import _free_port, _wait_for  # noqa: E402  (gunicorn started and awaited the same way)

ZONE = ZoneInfo("Europe/Amsterdam")
OUTAGE_PREFIX = "+31612"  # the region of the outage: callers from here hear it first
OTHER_PREFIX = "+31613"
OUTAGE_MESSAGE = "Er is een internetstoring in regio Utrecht."
DESK_THREADS = 3
TIME_IN_TEXT = re.compile(r"\b\d{1,2}:\d{2}\b")


# --- the day's plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayPlan:
    """What happens on the day, at full scale; `scaled` shrinks the volume and the staff with it."""

    day: date
    opens: clock_time = clock_time(8, 0)
    closes: clock_time = clock_time(20, 0)
    calls: int = 5000  # inbound calls, the outage's extra calls included
    agents: int = 30
    repeat_share: float = 0.30  # calls from a number that called earlier today
    callback_share: float = 0.19  # callers (not the outage's) who take a callback when offered: ~800
    outage_at: clock_time = clock_time(10, 0)
    outage_minutes: int = 60
    outage_intent: str = "internet"
    outage_multiplier: float = 3.0
    answer_mix: tuple[float, float, float] = (0.70, 0.20, 0.10)  # person, voicemail, no answer
    shift_dropped_at: clock_time = clock_time(12, 0)
    talk_seconds: float = 150.0  # simulated length of a conversation with an agent
    patience_seconds: float = 900.0  # a waiting caller hangs up after this long
    resolved_share: float = 0.8  # outcomes the agents record as resolved
    # Share of the day's calls in each opening hour (08:00 ... 19:00): a morning peak.
    hourly_weights: tuple[float, ...] = (0.8, 1.5, 1.6, 1.4, 1.0, 1.0, 1.0, 0.9, 0.9, 0.7, 0.5, 0.3)
    intent_mix: tuple[tuple[str, float], ...] = (("internet", 0.4), ("factuur", 0.35), ("verhuizen", 0.25))

    def scaled(self, scale: float) -> DayPlan:
        return replace(self, calls=max(1, round(self.calls * scale)), agents=max(3, round(self.agents * scale)))

    def local(self, moment: clock_time) -> datetime:
        return datetime.combine(self.day, moment, tzinfo=ZONE)

    @property
    def outage_window(self) -> tuple[datetime, datetime]:
        start = self.local(self.outage_at)
        return start, start + timedelta(minutes=self.outage_minutes)


@dataclass(frozen=True)
class PlannedCall:
    at: datetime
    number: str
    intent: str
    takes_callback: bool
    about_outage: bool


@dataclass(frozen=True)
class PlannedShift:
    agent: int  # index into the plan's agents
    starts: clock_time
    ends: clock_time


PHRASES = {
    "internet": ("mijn internet doet het niet", "mijn modem knippert rood", "geen internet sinds vanochtend"),
    "factuur": ("mijn factuur klopt niet", "ik heb een vraag over mijn rekening", "de betaling is mislukt"),
    "verhuizen": ("ik ga verhuizen", "ik wil mijn adres wijzigen", "verhuizing doorgeven"),
}
QUEUE_OF = {"internet": "technisch", "factuur": "facturen", "verhuizen": "algemeen"}
KEY_OF = {"internet": "1", "factuur": "2", "verhuizen": "3"}


def plan_calls(plan: DayPlan, rng: random.Random) -> list[PlannedCall]:
    """Arrival times with the morning peak plus the outage's extra calls; repeats reuse earlier numbers."""
    outage_start, outage_end = plan.outage_window
    outage_hour = plan.outage_at.hour - plan.opens.hour
    internet_share = dict(plan.intent_mix)[plan.outage_intent]
    weights = list(plan.hourly_weights)
    # The outage adds (multiplier - 1) x the intent's calls in that hour; the total stays `plan.calls`.
    extra_weight = (plan.outage_multiplier - 1) * internet_share * weights[outage_hour] * plan.outage_minutes / 60
    base = plan.calls * sum(weights) / (sum(weights) + extra_weight)
    moments: list[tuple[datetime, str | None]] = []
    for hour, weight in enumerate(weights):
        for _ in range(round(base * weight / sum(weights))):
            start = plan.local(clock_time(plan.opens.hour + hour))
            moments.append((start + timedelta(seconds=rng.uniform(0, 3600)), None))
    for _ in range(round(base * extra_weight / sum(weights))):
        span = (outage_end - outage_start).total_seconds()
        moments.append((outage_start + timedelta(seconds=rng.uniform(0, span)), plan.outage_intent))
    moments.sort()
    intents, shares = zip(*plan.intent_mix, strict=True)
    calls: list[PlannedCall] = []
    earlier: list[tuple[str, str]] = []  # (number, intent) of the day's callers so far
    for n, (at, forced_intent) in enumerate(moments):
        in_outage = outage_start <= at < outage_end
        again = [e for e in earlier if forced_intent is None or e[0].startswith(OUTAGE_PREFIX)]
        if again and rng.random() < plan.repeat_share:
            number, intent = rng.choice(again)
        else:
            intent = forced_intent or rng.choices(intents, weights=shares)[0]
            region = in_outage and intent == plan.outage_intent
            number = f"{OUTAGE_PREFIX if region else OTHER_PREFIX}{n:06d}"
            earlier.append((number, intent))
        about_outage = in_outage and number.startswith(OUTAGE_PREFIX)
        takes_callback = not about_outage and rng.random() < plan.callback_share
        calls.append(PlannedCall(at, number, intent, takes_callback, about_outage))
    return calls


def plan_shifts(plan: DayPlan) -> list[PlannedShift]:
    """Early, middle and late shifts: 40 % / 33 % / the rest of the agents."""
    early, middle = round(plan.agents * 0.4), round(plan.agents * 0.33)
    shifts = []
    for index in range(plan.agents):
        if index < early:
            starts, ends = clock_time(7, 45), clock_time(16, 15)
        elif index < early + middle:
            starts, ends = clock_time(10, 0), clock_time(18, 30)
        else:
            starts, ends = clock_time(12, 0), clock_time(20, 15)
        shifts.append(PlannedShift(index, starts, ends))
    return shifts


def agent_skills(plan: DayPlan, index: int) -> list[str]:
    """Every agent takes general calls and one of the two specialist queues, alternating within their
    shift, so each shift serves every queue at any scale (an agent alone on a shift takes all three)."""
    shifts = plan_shifts(plan)
    mine = shifts[index]
    colleagues = [s.agent for s in shifts if (s.starts, s.ends) == (mine.starts, mine.ends)]
    if len(colleagues) == 1:
        return ["technisch", "facturen", "algemeen"]
    return [("technisch", "facturen")[colleagues.index(index) % 2], "algemeen"]


def agent_phone(index: int) -> str:
    return f"+31620{index:06d}"


def answer_behaviour(plan: DayPlan, rng: random.Random) -> dict[str, Any]:
    """How a caller answers the callback: a person, voicemail or no answer, in the plan's mix."""
    person, voicemail, _ = plan.answer_mix
    draw = rng.random()
    if draw < person:
        return {"answered_by": "human"}
    if draw < person + voicemail:
        return {"answered_by": "machine_end_beep"}
    return {"answers": False}


# --- the clock --------------------------------------------------------------------------------------


class CompressedClock:
    """Simulated time: `factor` simulated seconds per real second, from `start`."""

    def __init__(self, start: datetime, factor: float) -> None:
        self.start, self.factor, self._t0 = start, factor, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.factor)

    def wait_until(self, moment: datetime) -> None:
        delay = (moment - self.now()).total_seconds() / self.factor
        if delay > 0:
            time.sleep(delay)  # pacing the replay in real time, not waiting for the app


def web_app() -> object:
    """What gunicorn serves: the real app, its clock the one the benchmark publishes in Redis."""
    from terugbel.app import create_app
    from terugbel.logs import configure_logging
    from terugbel.runtime import build_runtime
    from terugbel.worker import SharedTestClock

    configure_logging(logging.WARNING)
    runtime = build_runtime()
    runtime.clock = SharedTestClock(runtime.redis)
    return create_app(runtime=runtime)


# --- set-up through the public interfaces ------------------------------------------------------------


def cli_token(env: dict[str, str], *args: str) -> str:
    """`terugbel token create ...` against the bench's database; the secret it prints."""
    from terugbel.cli import main as terugbel

    result = CliRunner().invoke(terugbel, ["token", "create", *args], env=env, catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"terugbel token create {' '.join(args)} failed: {result.output}")
    return result.output.strip().splitlines()[-1]


class Api:
    """The JSON API with one bearer token; any answer but the expected status stops the run."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, expect: int = 200, **options: Any) -> Any:
        response = self.session.request(method, self.base_url + path, timeout=30, **options)
        if response.status_code != expect:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:400]}")
        return response.json() if response.content else None


def set_up_center(api: Api, plan: DayPlan) -> tuple[list[int], dict[int, list[int]]]:
    """Queues, intents, agents and shifts; returns the agents' ids and each agent's shift ids."""
    hours = [{"weekday": d, "opens": plan.opens.strftime("%H:%M"), "closes": plan.closes.strftime("%H:%M")}
             for d in range(7)]  # fmt: skip
    for name in ("technisch", "facturen", "algemeen"):
        api.call("POST", "/api/queues", 201, json={
            "name": name, "label": name.title(), "timezone": str(ZONE), "hours": hours,
            "default_handle_seconds": int(plan.talk_seconds + 60), "callback_share_percent": 30,
        })  # fmt: skip
    for intent, phrases in PHRASES.items():
        api.call("POST", "/api/intents", 201, json={
            "name": intent, "label_nl": intent, "label_en": intent, "queue": QUEUE_OF[intent],
            "key": KEY_OF[intent], "phrases_nl": list(phrases), "phrases_en": [intent],
        })  # fmt: skip
    agent_ids = []
    for index in range(plan.agents):
        agent = api.call("POST", "/api/agents", 201, json={
            "name": f"Agent {index:02d}", "phone": agent_phone(index), "skills": agent_skills(plan, index),
        })  # fmt: skip
        agent_ids.append(agent["id"])
    shifts: dict[int, list[int]] = defaultdict(list)
    for shift in plan_shifts(plan):
        created = api.call("POST", "/api/shifts", 201, json={
            "agent_id": agent_ids[shift.agent], "starts_at": plan.local(shift.starts).isoformat(),
            "ends_at": plan.local(shift.ends).isoformat(),
        })  # fmt: skip
        shifts[shift.agent].append(created["id"])
    return agent_ids, shifts


# --- the agents at their desks ----------------------------------------------------------------------


@dataclass
class Desks:
    """Each agent's desk: available at the shift's start, away at its end, an outcome after each call."""

    app_url: str
    plan: DayPlan
    tokens: dict[str, str]  # agent phone -> agent token
    rng: random.Random
    hung_up: queue.Queue[str | None] = field(default_factory=queue.Queue)
    errors: Counter[str] = field(default_factory=Counter)

    def session(self, phone: str) -> requests.Session:
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {self.tokens[phone]}"
        return api

    def set_state(self, phone: str, state: str) -> None:
        with self.session(phone) as api:
            response = api.put(f"{self.app_url}/api/me/state", json={"state": state}, timeout=30)
            if response.status_code not in {200, 409}:  # 409: on a call, the state changes after it
                self.errors[f"state {response.status_code}"] += 1

    def finish_wrap_up(self, phone: str) -> bool:
        """If the agent is in wrap-up: an outcome for each contact owed, then available again."""
        with self.session(phone) as api:
            desk = api.get(f"{self.app_url}/api/me/desk", timeout=30)
            if desk.status_code != 200:
                self.errors[f"desk {desk.status_code}"] += 1
                return False
            if desk.json()["state"] != "wrap_up":
                return False
            for pending in desk.json()["pending_outcomes"]:
                resolved = self.rng.random() < self.plan.resolved_share
                recorded = api.post(f"{self.app_url}/api/me/contacts/{pending['contact_id']}/outcome",
                                    json={"resolved": resolved}, timeout=30)  # fmt: skip
                if recorded.status_code != 200:
                    self.errors[f"outcome {recorded.status_code}"] += 1
            api.put(f"{self.app_url}/api/me/state", json={"state": "available"}, timeout=30)
            return True

    def tend(self, clock: CompressedClock) -> None:
        """After an agent's phone call ends, they look at their desk for a few simulated seconds."""
        while (phone := self.hung_up.get()) is not None:
            for _ in range(10):
                if self.finish_wrap_up(phone):
                    break
                time.sleep(2 / clock.factor)  # two simulated seconds between looks at the desk


def run_shift_changes(desks: Desks, clock: CompressedClock, plan: DayPlan, stop: threading.Event) -> None:
    """Agents log on at their shift's start and off at its end."""
    events = sorted(
        [(plan.local(s.starts), agent_phone(s.agent), "available") for s in plan_shifts(plan)]
        + [(plan.local(s.ends), agent_phone(s.agent), "away") for s in plan_shifts(plan)]
    )
    for at, phone, state in events:
        if stop.is_set():
            return
        clock.wait_until(at)
        desks.set_state(phone, state)


# --- the calls ----------------------------------------------------------------------------------------


def caller_script(call: PlannedCall, plan: DayPlan) -> Any:
    """What the caller does: the outage's callers ask for a text and hang up; others say their problem,
    and those who want a callback press 1 when one is offered."""
    from telephony.simulator import Reply, caller

    if call.about_outage:
        return caller(call.number, Reply(press="1"), Reply(hang_up=True))
    replies = [Reply(say=PHRASES[call.intent][int(call.number[-1]) % 3])]
    if call.takes_callback:
        replies += [Reply(press="1", when_heard="teruggebeld"), Reply(press="1", when_heard="terugbellen")]
    return caller(call.number, *replies, hang_up_after=plan.patience_seconds + plan.talk_seconds,
                  talk_seconds=plan.talk_seconds)  # fmt: skip


def place_calls(sim: Any, plan: DayPlan, calls: list[PlannedCall], clock: CompressedClock,
                stop: threading.Event) -> None:  # fmt: skip
    for call in calls:
        if stop.is_set():
            return
        clock.wait_until(call.at)
        sim.place_inbound_call(call.number, script=caller_script(call, plan), wait=False)


def timed_webhooks(sim: Any) -> list[tuple[str, float]]:
    """Wrap the simulator's webhook client: (path, real milliseconds) of every request to the app."""
    latencies: list[tuple[str, float]] = []
    client = sim.engine.webhooks
    send = client.request

    def timed(url: str, params: Any, method: str = "POST") -> Any:
        t0 = time.perf_counter()
        result = send(url, params, method)
        latencies.append((url.split("?", 1)[0].split("/", 3)[-1], (time.perf_counter() - t0) * 1000))
        return result

    client.request = timed
    return latencies


# --- the run --------------------------------------------------------------------------------------------


def next_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday())


def database_url(tmp: Path) -> tuple[str, Any, str | None]:
    """A schema of its own on PostgreSQL (with the engine to drop it), else a SQLite file."""
    from terugbel.settings import load_settings

    env_db = os.environ.get("DATABASE_URL")
    if not env_db:
        return f"sqlite:///{tmp / 'day.sqlite3'}", None, None
    base = load_settings({"DATABASE_URL": env_db, "TERUGBEL_DATA_DIR": str(tmp)}).database_url
    schema = f"bench_day_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}", admin, schema


def run_day(args: argparse.Namespace) -> None:
    import terugbel.schema  # noqa: F401  (every model, so the migrations know the whole schema)
    from telephony.simulator import Simulator
    from terugbel.db import Database
    from terugbel.migrate import upgrade
    from terugbel.redis_conn import connect_redis
    from terugbel.settings import load_settings
    from terugbel.worker import SharedTestClock

    plan = DayPlan(day=next_monday()).scaled(args.scale)
    rng = random.Random(args.seed)
    calls = plan_calls(plan, rng)
    tmp = Path(tempfile.mkdtemp(prefix="terugbel-bench-day-"))
    url, admin, schema = database_url(tmp)
    env = {"TERUGBEL_DATA_DIR": str(tmp), "DATABASE_URL": url, "TERUGBEL_CALLS_PER_SECOND": str(args.cps)}
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    settings = load_settings(env)
    db = Database(settings.database_url)
    upgrade(db.engine)  # an empty database at the current schema: what `terugbel db upgrade` does
    redis = connect_redis(settings)
    redis.flushdb()

    start = plan.local(clock_time(7, 40))
    clock = CompressedClock(start, args.factor)
    stop = threading.Event()

    def publish_clock() -> None:
        while not stop.is_set():
            SharedTestClock.publish(redis, clock.now())
            time.sleep(0.01)

    threading.Thread(target=publish_clock, daemon=True, name="clock").start()
    # A webhook over Twilio's 15 s would fail in simulated time at a few hundred real ms: the limit
    # is kept at 15 s of real time; the latency is measured (and reported) in real time.
    sim = Simulator(clock=clock, calls_per_second=args.cps, spec=False,
                    webhook_timeout_seconds=15 * args.factor).start()  # fmt: skip
    latencies = timed_webhooks(sim)
    port = _free_port()
    app_url = f"http://127.0.0.1:{port}"
    sim.app_base_url = app_url
    service_env = dict(os.environ)
    service_env.update(env, TERUGBEL_TWILIO_API_BASE_URL=sim.rest_base_url, PUBLIC_BASE_URL=app_url,
                       TERUGBEL_SHARED_TEST_CLOCK="1", TERUGBEL_RECONCILE_SECONDS=str(max(1, int(30 / args.factor))),
                       TERUGBEL_LOG_LEVEL="WARNING")  # fmt: skip
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        service_env.pop(name, None)  # the simulator's account
    log = open(tmp / "services.log", "w")  # noqa: SIM115 (open for the services' lifetime)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(args.web_workers), "--threads", str(args.threads),
         "--bind", f"127.0.0.1:{port}", "--pythonpath", f"{ROOT},{ROOT / 'bench'}", "--log-level", "warning",
         "--access-logfile", str(tmp / "access.log"), "--access-logformat", ACCESS_LOG_FORMAT,
         "day:web_app()"], env=service_env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    workers: list[subprocess.Popen[bytes]] = []
    desks = Desks(app_url, plan, {}, random.Random(args.seed + 1))
    wall0 = time.monotonic()
    try:
        _wait_for(app_url + "/healthz", server)
        cli_env = {**service_env, "TERUGBEL_SHARED_TEST_CLOCK": ""}
        api = Api(app_url, cli_token(cli_env, "--role", "supervisor", "--name", "day-bench"))
        agent_ids, shift_ids = set_up_center(api, plan)
        desks.tokens.update({agent_phone(i): cli_token(cli_env, "--role", "agent", "--name", f"day-agent-{i}",
                                            "--agent-id", str(agent_id))
                             for i, agent_id in enumerate(agent_ids)})  # fmt: skip
        print(f"set up through the API in {time.monotonic() - wall0:.0f} s: 3 queues, {len(PHRASES)} intents, "
              f"{plan.agents} agents and shifts; {len(calls)} calls planned "
              f"({sum(c.takes_callback for c in calls)} will take a callback, "
              f"{sum(c.about_outage for c in calls)} from the outage's region in its hour)", flush=True)  # fmt: skip
        for i in range(plan.agents):
            sim.add_agent(agent_phone(i), talk_seconds=plan.talk_seconds)
        callee = {c.number: answer_behaviour(plan, rng) for c in calls if c.takes_callback}
        watch_calls(sim, desks, callee, plan)
        workers = [subprocess.Popen([sys.executable, "-m", "terugbel.cli", "worker"], env=service_env,
                                    stdout=log, stderr=subprocess.STDOUT) for _ in range(args.workers)]  # fmt: skip
        threads = [
            threading.Thread(target=desks.tend, args=(clock,), daemon=True, name=f"desk-{n}")
            for n in range(DESK_THREADS)
        ] + [
            threading.Thread(target=place_calls, args=(sim, plan, calls, clock, stop), daemon=True, name="calls"),
            threading.Thread(target=run_shift_changes, args=(desks, clock, plan, stop), daemon=True, name="shifts"),
        ]
        for thread in threads:
            thread.start()
        incident: dict[str, Any] = {}
        supervisor = threading.Thread(
            target=run_incident_and_drop, args=(api, clock, plan, shift_ids, incident), daemon=True, name="supervisor"
        )
        supervisor.start()
        end = plan.local(plan.closes) + timedelta(minutes=30)
        while clock.now() < end:
            clock.wait_until(min(end, clock.now() + timedelta(minutes=30)))
            print(f"  {clock.now().astimezone(ZONE):%H:%M} simulated, {time.monotonic() - wall0:.0f} s wall, "
                  f"{len(sim.calls())} calls on the network, {len(latencies)} webhooks", flush=True)  # fmt: skip
        wall = time.monotonic() - wall0
    finally:
        stop.set()
        for _ in range(DESK_THREADS):
            desks.hung_up.put(None)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        server.terminate()
        server.wait(timeout=30)
        sim.stop()
        log.close()
    report(args, plan, db, sim, latencies, served_webhooks(tmp / "access.log"), incident, wall, desks.errors)
    db.dispose()
    if admin is not None:
        if args.keep:
            print(f"the day's data is kept in PostgreSQL schema {schema} (DROP SCHEMA ... CASCADE when read)")
        else:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    redis.flushdb()


def watch_calls(sim: Any, desks: Desks, callee: dict[str, dict[str, Any]], plan: DayPlan) -> None:
    """When a call ends: an agent's desk is told; a caller who booked now answers callbacks as planned."""

    def ended(call: Any) -> None:
        if call.to in desks.tokens:
            desks.hung_up.put(call.to)
        elif call.direction == "inbound" and call.from_ in callee:
            sim.add_callee(call.from_, talk_seconds=plan.talk_seconds, **callee[call.from_])

    sim.on_call_ended(ended)


def run_incident_and_drop(
    api: Api, clock: CompressedClock, plan: DayPlan, shift_ids: dict[int, list[int]], incident: dict[str, Any]
) -> None:
    """10:00 the outage is published (into `incident`), an hour later resolved; at noon a middle shift is dropped."""
    outage_start, outage_end = plan.outage_window
    clock.wait_until(outage_start)
    incident |= api.call("POST", "/api/incidents", 201, json={
        "title": "Storing Utrecht", "message_nl": OUTAGE_MESSAGE,
        "message_en": "There is an internet outage in the Utrecht region.", "match_prefixes": [OUTAGE_PREFIX],
        "expected_fix_at": outage_end.isoformat(),
    })  # fmt: skip
    # Calls placed while the API call was still committing could not hear it: they count from here.
    incident["published_at"] = clock.now().isoformat()
    clock.wait_until(outage_end)
    # A call answered from here on may find it resolved already: matching calls count until here.
    incident["resolving_at"] = clock.now().isoformat()
    api.call("POST", f"/api/incidents/{incident['id']}/resolve", 200)
    clock.wait_until(plan.local(plan.shift_dropped_at))
    middle = next(s for s in plan_shifts(plan) if s.starts == clock_time(10, 0))
    api.call("DELETE", f"/api/shifts/{shift_ids[middle.agent][0]}", 204)


# --- measurement --------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def promise_figures(db: Any, sim: Any) -> dict[str, Any]:
    """Kept inside the window, broken without a text naming a new time, duplicate dials."""
    from callbacks.models import CallbackAttempt, CallbackPromise

    texts: dict[str, list[Any]] = defaultdict(list)
    for message in sim.sent_messages():
        texts[message.to].append(message)
    with db.session() as session:
        promises = session.scalars(select(CallbackPromise).order_by(CallbackPromise.id)).all()
        attempts = session.scalars(select(CallbackAttempt)).all()
        by_promise: dict[int, list[Any]] = defaultdict(list)
        for attempt in attempts:
            by_promise[attempt.promise_id].append(attempt)
        kept = broken_silent = broken_told = cancelled = still_open = resolved_before = 0
        by_id = {promise.id: promise for promise in promises}
        late: list[float] = []  # seconds each first attempt started after its planned moment
        for promise in promises:
            first_attempt = min(by_promise[promise.id], key=lambda a: a.number, default=None)
            if first_attempt is not None and first_attempt.number == 1 and promise.planned_dial_at is not None:
                late.append((first_attempt.started_at - promise.planned_dial_at).total_seconds())
            if promise.state == "cancelled" and not promise.moved_by_us:
                cancelled += 1
                continue
            if promise.state == "moved" and _moved_by_caller(promise, by_id):
                cancelled += 1  # the caller chose another time: judged is the promise they moved to
                continue
            if promise.state == "resolved" and promise.ended_at < promise.window_start:
                resolved_before += 1  # the caller reached an agent before the window: nothing left to keep
                continue
            # Kept: the caller's phone was dialled inside the window (an attempt that found no agent free is not).
            dials = sorted(a.started_at for a in by_promise[promise.id] if a.caller_call_sid is not None)
            if dials and promise.window_start <= dials[0] <= promise.window_end:
                kept += 1
            elif promise.state in {"booked", "dialing"} and not by_promise[promise.id]:
                still_open += 1
            else:
                told = any(
                    promise.booked_at < m.date_created <= promise.window_end and TIME_IN_TEXT.search(m.body)
                    for m in texts[promise.number][1:]
                )
                broken_told += told
                broken_silent += not told
        caller_legs = Counter(
            number for (number,) in session.execute(
                select(CallbackPromise.number).join(CallbackAttempt, CallbackAttempt.promise_id == CallbackPromise.id)
                .where(CallbackAttempt.caller_call_sid.is_not(None))
            )
        )  # fmt: skip
        states = Counter(p.state for p in promises)
        # Why the missed ones were given up (the reason the board shows), most common first.
        missed_because = Counter((p.reason or "")[:60] for p in promises if p.state == "missed")
    dialled = Counter(c.to for c in sim.calls() if c.direction != "inbound")
    duplicates = sum(max(dialled[number] - legs, 0) for number, legs in caller_legs.items())
    return {
        "promises": len(promises), "kept": kept, "broken_told": broken_told, "broken_silent": broken_silent,
        "cancelled": cancelled, "resolved_before": resolved_before, "still_open": still_open,
        "duplicates": duplicates, "states": dict(states),
        "missed_because": missed_because.most_common(6), "late": late,
    }  # fmt: skip


def _moved_by_caller(promise: Any, by_id: dict[int, Any]) -> bool:
    """A moved promise whose replacement the caller chose (by SMS or in the menu), not one we moved."""
    replacement = by_id.get(promise.moved_to_id)
    return replacement is not None and not replacement.moved_by_us


def call_figures(db: Any, sim: Any, plan: DayPlan, incident: dict[str, Any]) -> dict[str, Any]:
    """Per inbound call from the simulator's records: questions before an answer, the outage heard first."""
    from routing.models import Contact

    started = datetime.fromisoformat(incident["published_at"]) if incident else None
    resolving_at = incident.get("resolving_at")
    resolving = datetime.fromisoformat(resolving_at) if resolving_at else plan.outage_window[1]
    questions: list[int] = []
    matching = heard_first = 0
    example = ""  # one call with more than two questions before an answer, to read
    unheard = ""  # one call matching the outage that heard something else first, to read
    for call in sim.calls():
        if call.direction != "inbound" or call.transcript is None:
            continue
        verbs = call.transcript.verbs
        answer = next((i for i, verb in enumerate(verbs) if verb in {"Dial", "Enqueue"}), None)
        if answer is not None:
            questions.append(verbs[:answer].count("Gather"))
            if questions[-1] > 2 and not example:
                example = call.transcript.to_text(ZONE)
        # Judged by when the system first spoke: the answer to the call's first webhook.
        answered = next((turn.at for turn in call.transcript.turns if turn.who == "system"), None)
        if started and answered and call.from_.startswith(OUTAGE_PREFIX) and started <= answered < resolving:
            matching += 1
            said = call.transcript.said_by("system")
            heard = bool(said) and said[0] == OUTAGE_MESSAGE
            heard_first += heard
            if not heard and not unheard:
                unheard = f"answered {answered.isoformat()}, published {started.isoformat()}\n"
                unheard += call.transcript.to_text(ZONE)
    with db.session() as session:
        contacts = session.execute(
            select(Contact.caller_id, Contact.intent_id, Contact.resolved, Contact.started_at, Contact.questions_asked)
            .where(Contact.channel == "call").order_by(Contact.started_at)
        ).all()  # fmt: skip
    first: dict[int, tuple[Any, bool]] = {}
    again: set[int] = set()
    for caller_id, intent_id, resolved, _, _ in contacts:
        if caller_id is None:
            continue
        if caller_id not in first:
            first[caller_id] = (intent_id, bool(resolved))
        elif first[caller_id][0] == intent_id:
            again.add(caller_id)
    resolved_first = sum(1 for cid, (_, ok) in first.items() if ok and cid not in again)
    asked = [q for *_, q in contacts if q is not None]
    return {
        "questions": questions, "matching": matching, "heard_first": heard_first, "fcr": (resolved_first, len(first)),
        "db_questions_max": max(asked, default=0), "example": example, "unheard": unheard,
    }  # fmt: skip


# gunicorn's access log: the path (no query string, no caller's data) and the time the app took, in µs.
ACCESS_LOG_FORMAT = "%(U)s %(D)s"


def served_webhooks(access_log: Path) -> list[tuple[str, float]]:
    """Each webhook's time inside gunicorn (ms): the app's own share of what the simulator measured."""
    served = []
    for line in access_log.read_text().splitlines():
        path, _, micros = line.rpartition(" ")
        if path.startswith("/twilio/") and micros.isdigit():
            served.append((re.sub(r"/\d+", "/{id}", path.lstrip("/")), int(micros) / 1000))
    return served


def latency_summary(timed: list[tuple[str, float]], target: str = "") -> str:
    """Count, p50, p99 and max of (path, ms) pairs, and the paths the slowest 1 % mostly took."""
    ms = [m for _, m in timed]
    p99 = percentile(ms, 0.99)
    slowest = Counter(path for path, m in timed if m >= p99)
    return (
        f"{len(ms)}, p50 {percentile(ms, 0.5):.1f}, p99 {p99:.1f}{target}, "
        f"max {max(ms, default=float('nan')):.0f}; slowest 1 % mostly {slowest.most_common(3)}"
    )


def hide_callers_words(transcript: str) -> str:
    """A transcript to print: what the system said, and only the kind of each of the caller's inputs."""
    return re.sub(r"(caller \[\w+\]) .*", r"\1 ...", transcript)


def report(args: argparse.Namespace, plan: DayPlan, db: Any, sim: Any, latencies: list[tuple[str, float]],
           served: list[tuple[str, float]], incident: dict[str, Any], wall: float,
           desk_errors: Counter[str]) -> None:  # fmt: skip
    p = promise_figures(db, sim)
    c = call_figures(db, sim, plan, incident)
    inbound = [x for x in sim.calls() if x.direction == "inbound"]
    errors = sum(1 for x in sim.calls() if x.transcript is not None and x.transcript.errors)
    judged = p["kept"] + p["broken_told"] + p["broken_silent"]
    q = c["questions"]
    print(
        f"\n== a day in the life: scale {args.scale:g} ({plan.calls} calls planned, {plan.agents} agents), "
        f"factor {args.factor:g}, {args.workers} RQ workers, gunicorn {args.web_workers}x{args.threads}, "
        f"{wall:.0f} s wall"
    )
    print(f"inbound calls placed              : {len(inbound)}; calls with a Twilio error: {errors}")
    print(f"promises                          : {p['promises']} rows, states {p['states']}")
    print(f"missed, because                   : {p['missed_because']}")
    print(
        f"kept inside their window          : {p['kept']}/{judged} "
        f"({100 * p['kept'] / judged if judged else float('nan'):.1f} %, target 100 %); "
        f"cancelled by the caller {p['cancelled']}, resolved before their window by another contact "
        f"{p['resolved_before']}, never due {p['still_open']}"
    )
    late = p["late"]
    print(
        f"first dial after its planned time : {len(late)} first attempts, p50 {percentile(late, 0.5):.0f} s, "
        f"p90 {percentile(late, 0.9):.0f} s, max {max(late, default=float('nan')):.0f} s (simulated)"
    )
    print(f"broken, texted a new time in time : {p['broken_told']}")
    print(f"broken without such a text        : {p['broken_silent']} (target 0)")
    print(f"duplicate dials                   : {p['duplicates']} (target 0)")
    print(f"webhooks (real ms at the simulator): {latency_summary(latencies, ' (target < 50)')}")
    print(f"the same, inside gunicorn (real ms): {latency_summary(served)}")
    share = 100 * c["heard_first"] / c["matching"] if c["matching"] else float("nan")
    print(f"outage heard before any question  : {c['heard_first']}/{c['matching']} ({share:.1f} %, target 100 %)")
    resolved, callers = c["fcr"]
    print(
        f"first-contact resolution          : {resolved}/{callers} ({100 * resolved / callers if callers else 0:.1f} %)"
    )
    print(
        f"questions before Dial/Enqueue     : {len(q)} calls, max {max(q, default=0)} (target <= 2), "
        f"{dict(Counter(q))}; contacts.questions_asked max {c['db_questions_max']}"
    )
    if c["example"]:
        print("a call with more than two questions before an answer (the caller's words hidden):")
        print(hide_callers_words(c["example"]))
    if c["unheard"]:
        print("a call matching the outage that heard something else first (the caller's words hidden):")
        print(hide_callers_words(c["unheard"]))
    if desk_errors:
        print(f"agent desk API errors             : {dict(desk_errors)}")


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("twilio").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the day's call volume")
    parser.add_argument("--factor", type=float, default=40.0, help="simulated seconds per real second")
    parser.add_argument("--workers", type=int, default=4, help="RQ worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--cps", type=float, default=10.0, help="outbound calls per second")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema of the day, to read it")
    run_day(parser.parse_args())


if __name__ == "__main__":
    main()
