"""Benchmark callback dispatch: 1,000 promises in one 15-minute window, 4 real worker processes.

    .venv/bin/python bench/dispatch.py                       # SQLite + embedded Redis in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/dispatch.py --factor 3

Simulated time runs `--factor` times faster than real time (the workers read it from Redis, see
terugbel/worker.py SharedTestClock). The simulator answers every REST request after `--latency`
seconds of real time and starts at most `--cps` calls per simulated second; the workers pace
themselves to `--cps` calls per real second. Each promise is an agent leg (whisper, key 1) and a
caller leg (a person, async AMD) bridged in a conference.

Prints, per scenario ("normal", and "flush": Redis loses everything halfway through the window):
promises dialled inside their window (target 100 %), lateness of the first dial against the planned
dial time in real seconds p50/p99/max (target p99 <= 2 s), and duplicate caller legs (must be 0).
THE GIVEN REDIS DATABASE IS FLUSHED. On PostgreSQL it works in a schema of its own. Never run in CI.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, select, text
from werkzeug.serving import make_server

import terugbel.schema  # noqa: F401  (every model, so Base.metadata is the whole schema)
from callbacks.models import OPEN_PROMISE_STATES, CallbackAttempt, CallbackPromise
from callbacks.promise import start_promise
from callbacks.scheduling import schedule_promise
from routing.models import Agent, AgentState, BusinessHours, Queue, Shift
from telephony.simulator import Simulator
from terugbel.db import Database
from terugbel.migrate import upgrade
from terugbel.redis_conn import connect_redis
from terugbel.runtime import Runtime
from terugbel.settings import load_settings
from terugbel.worker import SharedTestClock

OPEN = {s.value for s in OPEN_PROMISE_STATES}


class CompressedClock:
    """Simulated time: `factor` simulated seconds per real second, from `start`."""

    def __init__(self, start: datetime, factor: float) -> None:
        self.start, self.factor, self._t0 = start, factor, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.factor)


def seed(db: Database, *, start: datetime, window: timedelta, promises: int, agents: int) -> list[CallbackPromise]:
    with db.session() as session:
        queue = Queue(name="technisch", label="Technisch", skill="technisch", callback_share=1.0)
        session.add(queue)
        session.flush()
        for weekday in range(7):
            session.add(
                BusinessHours(queue_id=queue.id, weekday=weekday, opens=clock_time(0), closes=clock_time(23, 59))
            )
        for i in range(agents):
            agent = Agent(
                name=f"Agent {i}",
                phone=f"+316200{i:05d}",
                skills=["technisch"],
                state=AgentState.AVAILABLE.value,
                state_changed_at=start,
            )
            session.add(agent)
            session.flush()
            session.add(
                Shift(agent_id=agent.id, starts_at=start - timedelta(hours=1), ends_at=start + timedelta(hours=3))
            )
        window_start = start + timedelta(minutes=2)
        rows = []
        for i in range(promises):
            promise = CallbackPromise(
                queue_id=queue.id,
                number=f"+316300{i:05d}",
                language="nl",
                timezone="Europe/Amsterdam",
                problem="mijn internet doet het niet",
                window_start=window_start,
                window_end=window_start + window,
                planned_dial_at=window_start + window * i / promises,
                booked_at=start,
            )
            start_promise(promise, start, "booked by the benchmark")
            session.add(promise)
            rows.append(promise)
    return rows


def run(scenario: str, args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="terugbel-bench-dispatch-"))
    env_db, env_redis = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    admin = schema = None
    if env_db:
        base = load_settings({"DATABASE_URL": env_db, "TERUGBEL_DATA_DIR": str(tmp)}).database_url
        schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        database_url = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    else:
        database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    env = {"TERUGBEL_DATA_DIR": str(tmp), "DATABASE_URL": database_url, "TERUGBEL_CALLS_PER_SECOND": str(args.cps)}
    if env_redis:
        env["REDIS_URL"] = env_redis
    settings = load_settings(env)
    db = Database(settings.database_url)
    upgrade(db.engine)
    redis = connect_redis(settings)
    redis.flushdb()

    window = timedelta(minutes=args.window_minutes)
    start = datetime.now(UTC).replace(microsecond=0)
    clock = CompressedClock(start, args.factor)
    stop = threading.Event()

    def publish_clock() -> None:
        while not stop.is_set():
            SharedTestClock.publish(redis, clock.now())
            time.sleep(0.01)

    threading.Thread(target=publish_clock, daemon=True).start()
    sim = Simulator(clock=clock, calls_per_second=args.cps, spec=False).start()
    sim.faults.slow_next(10**9, seconds=args.latency)
    server = make_server("127.0.0.1", 0, lambda e, s: app(e, s), threaded=True)
    app_url = f"http://127.0.0.1:{server.server_port}"
    sim.app_base_url = app_url
    runtime = Runtime(
        settings=settings.with_overrides(public_base_url=app_url, twilio_api_base_url=sim.rest_base_url),
        db=db,
        redis=redis,
        clock=clock,
    )
    from terugbel.app import create_app

    app = create_app(runtime=runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    promises = seed(db, start=start, window=window, promises=args.promises, agents=args.agents)
    for i in range(args.agents):
        sim.add_agent(f"+316200{i:05d}", talk_seconds=args.talk_seconds)
    for promise in promises:
        sim.add_callee(promise.number, talk_seconds=args.talk_seconds)
        schedule_promise(redis, promise.id, 1, promise.planned_dial_at)

    worker_env = dict(os.environ)
    worker_env.update(
        env,
        TERUGBEL_TWILIO_API_BASE_URL=sim.rest_base_url,
        PUBLIC_BASE_URL=app_url,
        TERUGBEL_SHARED_TEST_CLOCK="1",
        TERUGBEL_RECONCILE_SECONDS=str(max(1, int(30 / args.factor))),
    )
    log = open(tmp / "workers.log", "w")  # noqa: SIM115 (open for the workers' lifetime)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "terugbel.cli", "worker"], env=worker_env, stdout=log, stderr=subprocess.STDOUT
        )
        for _ in range(args.workers)
    ]
    window_start, window_end = promises[0].window_start, promises[0].window_end
    flushed = False
    deadline = window_end + window  # the grace slot
    try:
        while clock.now() < deadline:
            if scenario == "flush" and not flushed and clock.now() >= window_start + window / 2:
                redis.flushdb()
                flushed = True
            with db.session() as session:
                still_open = session.scalar(select(CallbackPromise.id).where(CallbackPromise.state.in_(OPEN)).limit(1))
            if still_open is None:
                break
            time.sleep(1.0)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        stop.set()
        log.close()
        sim.stop()
        server.shutdown()
    report(scenario, args, db, sim, window_start, window_end)
    db.dispose()
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def report(
    scenario: str, args: argparse.Namespace, db: Database, sim: Simulator, window_start: datetime, window_end: datetime
) -> None:
    with db.session() as session:
        # The promises seeded (rebookings of missed ones are new promises, counted apart).
        everything = session.scalars(select(CallbackPromise).order_by(CallbackPromise.id)).all()
        promises = everything[: args.promises]
        rebooked = len(everything) - len(promises)
        reasons = Counter(p.reason for p in promises if p.state not in {"completed"} and p.reason)
        caller_legs = Counter(
            number
            for (number,) in session.execute(
                select(CallbackPromise.number)
                .join(CallbackAttempt, CallbackAttempt.promise_id == CallbackPromise.id)
                .where(CallbackAttempt.caller_call_sid.is_not(None))
            )
        )
        states = Counter(p.state for p in promises)
        agents = Counter(session.scalars(select(Agent.state)))
        dialled = [p for p in promises if p.first_dial_at is not None]
        inside = [p for p in dialled if window_start <= p.first_dial_at <= window_end]
        lateness = sorted(max((p.first_dial_at - p.planned_dial_at).total_seconds(), 0) / args.factor for p in dialled)
    calls = Counter(call.to for call in sim.calls())
    first_call: dict[str, datetime] = {}
    for call in sim.calls():
        if call.to not in first_call or call.date_created < first_call[call.to]:
            first_call[call.to] = call.date_created
    reached_inside = sum(
        1 for p in promises if p.number in first_call and window_start <= first_call[p.number] <= window_end
    )
    numbers = {p.number for p in promises}
    duplicates = sum(max(calls[number] - caller_legs[number], 0) for number in numbers)
    unrecorded = sum(1 for number in numbers if calls[number] and not caller_legs[number])

    def pct(q: float) -> float:
        return lateness[min(int(q * len(lateness)), len(lateness) - 1)] if lateness else float("nan")

    print(
        f"\n== scenario: {scenario} ({args.promises} promises, {args.workers} workers, factor {args.factor}, "
        f"{args.cps} cps, {int(args.latency * 1000)} ms API latency)"
    )
    print(
        f"dialled inside their window : {len(inside)}/{len(promises)} ({100 * len(inside) / len(promises):.1f} %)"
        f"  (attempt started; the caller's phone rang inside it for {reached_inside})"
    )
    if lateness:
        print(
            f"lateness vs planned (real s): p50 {statistics.median(lateness):.2f}  p99 {pct(0.99):.2f}  "
            f"max {lateness[-1]:.2f}"
        )
    print(f"duplicate caller legs       : {duplicates}  (caller legs without a recorded attempt: {unrecorded})")
    print(f"promise states              : {dict(states)}; rebooked with a new time: {rebooked}")
    print(f"agents at the end           : {dict(agents)}")
    for reason, count in reasons.most_common(5):
        print(f"  not kept: {count} x {reason}")


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("twilio").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promises", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=150)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--window-minutes", type=int, default=15)
    parser.add_argument("--factor", type=float, default=3.0, help="simulated seconds per real second")
    parser.add_argument("--cps", type=float, default=10.0)
    parser.add_argument("--latency", type=float, default=0.15, help="REST API latency in real seconds")
    parser.add_argument("--talk-seconds", type=float, default=30.0, help="simulated conversation length")
    parser.add_argument("--scenario", choices=["normal", "flush", "both"], default="both")
    args = parser.parse_args()
    for scenario in ["normal", "flush"] if args.scenario == "both" else [args.scenario]:
        run(scenario, args)


if __name__ == "__main__":
    main()
