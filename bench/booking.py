"""Benchmark atomic booking: 200 concurrent attempts for the last 20 places across 4 slots (issue 6).

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/booking.py

Without DATABASE_URL it runs on a SQLite file in a temporary directory (every write serialised by
BEGIN IMMEDIATE). On PostgreSQL it works in a schema of its own (created and dropped). Never run in CI.
Prints bookings made (must be 20), places overbooked (must be 0), callers with two open promises
(must be 0) and the latency of one booking attempt, p50 and p99. Target: p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from callbacks.models import OPEN_PROMISE_STATES, CallbackPromise, CallbackSlot
from callbacks.service import CallbackError, book_callback, ensure_slots
from routing.models import Agent, BusinessHours, Queue, Shift
from terugbel.db import import_all_models, make_engine
from terugbel.migrate import upgrade
from terugbel.settings import load_settings

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=AMS)  # a Monday morning
OPEN = [s.value for s in OPEN_PROMISE_STATES]


def seed(sessions: sessionmaker[Session], places_per_slot: int, slots: int) -> int:
    """A queue open 08:00–21:00 with 6 agents; only `slots` slots have places left (an override)."""
    with sessions() as session, session.begin():
        queue = Queue(name="technisch", label="Technisch", skill="technisch")
        session.add(queue)
        session.flush()
        for weekday in range(7):
            session.add(BusinessHours(queue_id=queue.id, weekday=weekday, opens=clock_time(8), closes=clock_time(21)))
        for i in range(6):
            agent = Agent(name=f"Agent {i}", phone=f"+3161111000{i}", skills=["technisch"])
            session.add(agent)
            session.flush()
            # Staffed today only: later days have no capacity, so only today's places count.
            start = NOW.replace(hour=8)
            session.add(Shift(agent_id=agent.id, starts_at=start, ends_at=start + timedelta(hours=13)))
        session.flush()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--places", type=int, default=5, help="places left per slot")
    parser.add_argument(
        "--workers", type=int, default=20, help="attempts in flight at once (threads; all start together)"
    )
    parser.add_argument("--connections", type=int, default=40, help="PostgreSQL connection pool size")
    args = parser.parse_args()

    import_all_models()
    server_url = os.environ.get("DATABASE_URL")
    admin = schema = None
    if server_url:
        base = load_settings({"DATABASE_URL": server_url}).database_url
        schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
        engine = create_engine(url, pool_size=args.connections, max_overflow=0, pool_timeout=60)
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
        engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = sessionmaker(engine, expire_on_commit=False)
        queue_id = seed(sessions, args.places, args.slots)

        barrier = threading.Barrier(args.workers)
        results: list[tuple[float, bool]] = []
        lock = threading.Lock()
        numbers = iter(range(args.attempts))

        def run() -> None:
            barrier.wait()
            while True:
                with lock:
                    i = next(numbers, None)
                if i is None:
                    return
                outcome = attempt(sessions, queue_id, f"+3162{i:07d}")
                with lock:
                    results.append(outcome)

        threads = [threading.Thread(target=run) for _ in range(args.workers)]
        wall = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - wall

        with sessions() as session:
            slots = list(session.scalars(select(CallbackSlot)))
            open_promises = session.scalar(
                select(func.count()).select_from(CallbackPromise).where(CallbackPromise.state.in_(OPEN))
            )
            doubles = session.scalar(
                select(func.count()).select_from(
                    select(CallbackPromise.number)
                    .where(CallbackPromise.state.in_(OPEN))
                    .group_by(CallbackPromise.number)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
        latencies = sorted(ms for ms, _ in results)
        overbooked = sum(max(slot.booked - slot.capacity, 0) for slot in slots)
        print(f"backend            {engine.dialect.name}")
        print(
            f"attempts           {len(results)} for {args.slots * args.places} places in {args.slots} slots, "
            f"{args.workers} at a time"
        )
        print(f"bookings made      {sum(1 for _, ok in results if ok)} (open promises: {open_promises})")
        print(f"places overbooked  {overbooked}")
        print(f"double promises    {doubles}")
        print(f"latency p50        {statistics.median(latencies):.1f} ms")
        print(f"latency p99        {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms")
        print(f"wall time          {wall * 1000:.0f} ms")
    finally:
        engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
