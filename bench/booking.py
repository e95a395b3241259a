"""Benchmark atomic booking: 200 concurrent attempts for the last 20 places across 4 slots.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/booking.py

Without DATABASE_URL it runs on a SQLite file in a temporary directory (every write serialised by
BEGIN IMMEDIATE). On PostgreSQL it works in a schema of its own (created and dropped). Never run in CI.
The attempts come from `--processes` client processes (like gunicorn workers: each its own
interpreter, engine and pool) with `--workers` attempts in flight in all; `--processes 1` runs them
as threads of this one process. Before the common start every client thread books `--warm-rounds`
times in a warm-up queue and looks at the measured queue as far ahead as the attempts will, as often.
So no attempt pays for connecting, compiling statements (in SQLAlchemy, and in PostgreSQL: psycopg
prepares a statement a connection has run 5 times) or a process's first look at the queue's slots.
Prints bookings made (must be 20), places overbooked (must be 0), callers with two open promises
(must be 0) and the latency of one booking attempt (its own start to commit), p50 and p99.
Target: p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

import terugbel.schema  # noqa: F401  (every model, so Base.metadata is the whole schema)
from callbacks.models import OPEN_PROMISE_STATES, CallbackPromise, CallbackSlot
from callbacks.service import BOOKING_CANDIDATES, CallbackError, book_callback, ensure_slots, offer_slots
from routing.models import Agent, BusinessHours, Queue, Shift
from terugbel.db import make_engine
from terugbel.migrate import upgrade
from terugbel.settings import load_settings

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=AMS)  # a Monday morning
OPEN = [s.value for s in OPEN_PROMISE_STATES]


def seed(
    sessions: sessionmaker[Session], places_per_slot: int, slots: int, name: str = "technisch", *, cold: bool = False
) -> int:
    """A queue open 08:00–21:00 with 6 agents; only `slots` slots have places left (an override).

    Unless `cold`, the slots of the next three weeks exist already, as in a system that has been
    making offers for a while: otherwise the first attempts all race to insert the same ~1,000 slots.
    """
    with sessions() as session, session.begin():
        queue = Queue(name=name, label=name.capitalize(), skill=name)
        session.add(queue)
        session.flush()
        for weekday in range(7):
            session.add(BusinessHours(queue_id=queue.id, weekday=weekday, opens=clock_time(8), closes=clock_time(21)))
        for i in range(6):
            agent = Agent(name=f"{name} {i}", phone=f"+316111{queue.id:03d}{i:02d}", skills=[name])
            session.add(agent)
            session.flush()
            # Staffed today only: later days have no capacity, so only today's places count.
            start = NOW.replace(hour=8)
            session.add(Shift(agent_id=agent.id, starts_at=start, ends_at=start + timedelta(hours=13)))
        session.flush()
        if not cold:
            ensure_slots(session, queue.id, NOW, NOW + timedelta(days=22), NOW)
        # The last places: every slot of today is full or closed except `slots` of them.
        for n, slot in enumerate(ensure_slots(session, queue.id, NOW, NOW + timedelta(days=1), NOW)):
            if 2 <= n < 2 + slots:
                slot.capacity_override = slot.capacity = places_per_slot
            else:
                slot.closed = True
        return queue.id


def attempt(sessions: sessionmaker[Session], queue_id: int, number: str) -> tuple[float, bool]:
    started = time.perf_counter()
    booked = False
    with sessions() as session, session.begin():
        # Like the phone menu: a refused booking is an answer, and the rest of the transaction commits.
        try:
            book_callback(
                session,
                queue_id=queue_id,
                number=number,
                language="nl",
                timezone="Europe/Amsterdam",
                now=NOW,
                notify=True,
            )
            booked = True
        except CallbackError:
            pass
    return (time.perf_counter() - started) * 1000, booked


@dataclass(frozen=True)
class Plan:
    """What every client process needs to take part (picklable: it crosses into the processes)."""

    url: str
    queue_id: int
    warm_queue_id: int
    threads: int
    pool_size: int
    warm_rounds: int
    cold: bool  # the warm-up leaves the measured queue alone: its slots are made by the attempts


# One outcome: latency (ms), booked, and the moments (perf_counter) the attempt began and ended.
Outcome = tuple[float, bool, float, float]


def client(
    plan: Plan, index: int, barrier: Any, counter: Any, attempts: int, engine: Engine | None = None
) -> list[Outcome]:
    """One client process (a gunicorn worker, say): its own engine and pool, `plan.threads` in flight."""
    own = engine is None
    if engine is None:
        engine = _engine(plan.url, plan.pool_size)
    sessions = sessionmaker(engine, expire_on_commit=False)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def run(thread: int) -> None:
        # Warm like a server that has answered requests before: connected, statements compiled, and
        # the measured queue's slots looked at as far as the attempts will look (offers: they book
        # nothing). The first look at a stretch checks that every slot in it exists, and the process
        # remembers that until the configuration changes. The attempts that come after the last
        # places are taken look three weeks ahead, as this server would have while the week filled
        # up: an offer that leaves out today's free slots looks that far too.
        # A server's pooled connections have run its hot statements thousands of times, so
        # PostgreSQL has them prepared (psycopg prepares a statement on its 6th run): so should
        # these before the start, or every measured booking would parse and plan each of its
        # statements.
        for round_ in range(plan.warm_rounds):
            if not attempt(sessions, plan.warm_queue_id, f"+3161{index:02d}{thread:03d}{round_:02d}")[1]:
                raise RuntimeError("the warm-up booking was refused: the attempts would run cold")
        for leave_out_today in () if plan.cold else (False, True, False) * plan.warm_rounds:
            with sessions() as session, session.begin():
                offers = offer_slots(
                    session, queue_id=plan.queue_id, now=NOW, zone="Europe/Amsterdam", count=BOOKING_CANDIDATES
                )
                if leave_out_today:
                    excluded = [offer.slot_id for offer in offers]
                    far = offer_slots(
                        session,
                        queue_id=plan.queue_id,
                        now=NOW,
                        zone="Europe/Amsterdam",
                        count=BOOKING_CANDIDATES,
                        exclude=excluded,
                    )
                    if far:
                        raise RuntimeError("the measured queue has places beyond today: the attempts would book them")
        barrier.wait()
        while True:
            with counter.get_lock():
                i = counter.value
                counter.value += 1
            if i >= attempts:
                return
            began = time.perf_counter()
            ms, booked = attempt(sessions, plan.queue_id, f"+3162{i:07d}")
            with lock:
                outcomes.append((ms, booked, began, time.perf_counter()))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(plan.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if own:
        engine.dispose()
    return outcomes


def client_process(plan: Plan, index: int, barrier: Any, counter: Any, attempts: int, results: Any) -> None:
    results.put(client(plan, index, barrier, counter, attempts))


def _engine(url: str, pool_size: int) -> Engine:
    if url.startswith("sqlite"):
        return make_engine(url)
    return create_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60)


def drive(plan: Plan, engine: Engine, processes: int, attempts: int) -> list[Outcome]:
    """Run the attempts from `processes` client processes (or, with one, from threads in this one)."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes * plan.threads, timeout=300)  # a client that died must not hang the rest
    counter = context.Value("i", 0)
    if processes == 1:
        return client(plan, 0, barrier, counter, attempts, engine)
    results = context.SimpleQueue()
    # Forked children must not share the parent's open connections: close them first.
    engine.dispose()
    children = [
        context.Process(target=client_process, args=(plan, n, barrier, counter, attempts, results))
        for n in range(processes)
    ]
    for child in children:
        child.start()
    outcomes = [outcome for _ in children for outcome in results.get()]
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"client process {child.pid} failed with exit code {child.exitcode}")
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--places", type=int, default=5, help="places left per slot")
    parser.add_argument("--workers", type=int, default=20, help="attempts in flight at once, in all processes together")
    parser.add_argument(
        "--processes",
        type=int,
        default=20,
        help="client processes, each with its own engine and pool (like gunicorn workers); "
        "each runs workers/processes threads; 1 = all threads in this process",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="only today's slots exist and the warm-up leaves the measured queue alone: "
        "the first attempts materialise the rest",
    )
    parser.add_argument(
        "--warm-rounds",
        type=int,
        default=6,
        help="warm-up bookings (and looks at the measured queue) per client thread before the start; "
        "6 leaves every hot statement prepared on its connection (1: compiled in SQLAlchemy only)",
    )
    parser.add_argument("--timeline", action="store_true", help="print every attempt's start, end and outcome")
    parser.add_argument(
        "--connections", type=int, default=None, help="PostgreSQL pool size per process (default: its threads)"
    )
    args = parser.parse_args()
    if args.processes < 1 or args.workers % args.processes:
        parser.error("--workers must be a positive multiple of --processes")
    if not 1 <= args.warm_rounds <= 99:
        parser.error("--warm-rounds must be between 1 and 99")
    threads = args.workers // args.processes
    server_url = os.environ.get("DATABASE_URL")
    admin = schema = None
    if server_url:
        base = load_settings({"DATABASE_URL": server_url}).database_url
        schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    engine = _engine(url, args.connections or threads)
    try:
        upgrade(engine)
        sessions = sessionmaker(engine, expire_on_commit=False)
        queue_id = seed(sessions, args.places, args.slots, cold=args.cold)
        # Each client thread books in a queue of its own before the start: warm, not counted.
        warm_queue_id = seed(sessions, args.workers * args.warm_rounds, 1, name="warm-up")
        plan = Plan(url, queue_id, warm_queue_id, threads, args.connections or threads, args.warm_rounds, args.cold)
        if admin is not None:
            admin.dispose()  # reopened for the clean-up; forked clients must not inherit it
        results = drive(plan, engine, args.processes, args.attempts)
        wall = max(end for *_, end in results) - min(began for *_, began, _ in results)

        with sessions() as session:
            slots = list(session.scalars(select(CallbackSlot).where(CallbackSlot.queue_id == queue_id)))
            promises = select(CallbackPromise).where(
                CallbackPromise.queue_id == queue_id, CallbackPromise.state.in_(OPEN)
            )
            open_promises = session.scalar(select(func.count()).select_from(promises.subquery()))
            doubles = session.scalar(
                select(func.count()).select_from(
                    select(CallbackPromise.number)
                    .where(CallbackPromise.state.in_(OPEN))
                    .group_by(CallbackPromise.number)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
        latencies = sorted(ms for ms, *_ in results)
        overbooked = sum(max(slot.booked - slot.capacity, 0) for slot in slots)
        print(f"backend            {engine.dialect.name}")
        print(
            f"attempts           {len(results)} for {args.slots * args.places} places in {args.slots} slots, "
            f"{args.workers} at a time from {args.processes} process{'es' if args.processes > 1 else ''}"
            f"{', slots made on the way' if args.cold else ''}"
        )
        print(f"bookings made      {sum(1 for _, ok, *_ in results if ok)} (open promises: {open_promises})")
        print(f"places overbooked  {overbooked}")
        print(f"double promises    {doubles}")
        print(f"latency p50        {statistics.median(latencies):.1f} ms")
        print(f"latency p99        {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms")
        print(f"wall time          {wall * 1000:.0f} ms")
        booked_ms = sorted(ms for ms, ok, *_ in results if ok)
        print(f"booked attempts    p50 {statistics.median(booked_ms):.1f} ms, slowest {booked_ms[-1]:.1f} ms")
        if args.timeline:
            first = min(began for *_, began, _ in results)
            for ms, ok, began, ended in sorted(results, key=lambda outcome: outcome[2]):
                print(
                    f"  start {(began - first) * 1000:7.1f}  end {(ended - first) * 1000:7.1f}  "
                    f"{ms:7.1f} ms  {'booked' if ok else 'refused'}"
                )
    finally:
        engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
