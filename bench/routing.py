"""Benchmark one routing decision: 200 rules, a caller with 1,000 past contacts.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/routing.py

Without DATABASE_URL it runs on a SQLite file in a temporary directory. On PostgreSQL it works in a
schema of its own (created and dropped), so it never touches other data. Never run in CI.
Target: p99 under 5 ms per decision (route_contact: loading the snapshot and evaluating).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, event, text

import terugbel.schema  # noqa: F401  (every model, so Base.metadata is the whole schema)
from routing.config import center_config
from routing.decision import evaluate_rules
from routing.models import Agent, BusinessHours, Caller, Contact, Intent, Queue, Shift
from routing.route import load_snapshot, route_contact, routed_caller
from routing.rule_sets import live_rules, publish_rule_set
from terugbel.db import Database
from terugbel.logs import configure_logging
from terugbel.migrate import upgrade
from terugbel.settings import load_settings

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday morning
QUEUES = 10
AGENTS = 60
INTENTS = 20
RULES = 200
PAST_CONTACTS = 1000
HISTORY_DAYS = 90  # the past contacts spread over this many days: ~78 fall in the 7-day window


def build_rules(queue_names: list[str], intent_names: list[str], agent_ids: list[int]) -> list[dict]:
    """200 varied rules; none stops early, so every decision evaluates all of them."""
    rules = []
    for i in range(RULES):
        kind = i % 8
        conditions: dict
        if kind == 0:
            conditions = {"intent_in": [intent_names[i % INTENTS], intent_names[(i + 3) % INTENTS]]}
        elif kind == 1:
            conditions = {"number_prefix": [f"+31{10 + i % 80}"], "language": "nl"}
        elif kind == 2:
            conditions = {"day_time": {"weekdays": [0, 1, 2, 3, 4], "from": f"{8 + i % 4:02d}:00", "to": "17:00"}}
        elif kind == 3:
            conditions = {"repeat_count_at_least": 1 + i % 5, "vip": bool(i % 2)}
        elif kind == 4:
            conditions = {"wait_estimate_above_seconds": {"queue": queue_names[i % QUEUES], "seconds": 60 * (i % 20)}}
        elif kind == 5:
            conditions = {"queue_closed": queue_names[i % QUEUES], "matches_incident": False}
        elif kind == 6:
            conditions = {"region": ["NL", "BE"], "has_open_promise": False, "intent_in": [intent_names[i % INTENTS]]}
        else:
            conditions = {"queue_open": queue_names[(i + 1) % QUEUES], "language": "en"}
        actions: dict = {"route_to_queue": queue_names[(i * 7) % QUEUES]}
        if i % 3 == 0:
            actions["raise_priority"] = 1
        if i % 11 == 0:
            actions = {"route_to_agent": agent_ids[i % len(agent_ids)]}
        if i % 13 == 0:
            actions["announce"] = {"nl": f"Mededeling {i}", "en": f"Announcement {i}"}
        rules.append({"name": f"Regel {i:03d}", "conditions": conditions, "actions": actions})
    return rules


def seed(db: Database) -> tuple[int, str]:
    """The contact center and the caller; returns the caller id and an intent name."""
    with db.session() as session:
        queues = [Queue(name=f"queue{q}", label=f"Queue {q}", skill=f"skill{q}") for q in range(QUEUES)]
        session.add_all(queues)
        session.flush()
        for queue in queues:
            for weekday in range(5):
                session.add(BusinessHours(queue_id=queue.id, weekday=weekday, opens=_t(8), closes=_t(18)))
        agents = [
            Agent(
                name=f"Agent {a}",
                phone=f"+316{a:08d}",
                skills=[f"skill{a % QUEUES}", f"skill{(a + 1) % QUEUES}"],
                state=["available", "on_call", "wrap_up", "away"][a % 4],
            )
            for a in range(AGENTS)
        ]
        session.add_all(agents)
        session.flush()
        for agent in agents:
            session.add(Shift(agent_id=agent.id, starts_at=NOW - timedelta(hours=2), ends_at=NOW + timedelta(hours=6)))
        intents = [
            Intent(
                name=f"intent{i}",
                label_nl=f"onderwerp {i}",
                label_en=f"topic {i}",
                queue_id=queues[i % QUEUES].id,
                phrases_nl=[f"woord{i}"],
                phrases_en=[f"word{i}"],
            )
            for i in range(INTENTS)
        ]
        session.add_all(intents)
        caller = Caller(number="+31301234567", name="Bench Beller", language="nl", vip=True, created_at=NOW)
        session.add(caller)
        session.flush()
        step = timedelta(days=HISTORY_DAYS) / PAST_CONTACTS
        for c in range(PAST_CONTACTS):
            started = NOW - timedelta(minutes=5) - c * step
            session.add(
                Contact(
                    caller_id=caller.id,
                    channel="call",
                    intent_id=intents[c % INTENTS].id,
                    queue_id=queues[c % QUEUES].id,
                    agent_id=agents[c % AGENTS].id,
                    outcome="agent",
                    resolved=c % 4 != 0,
                    started_at=started,
                    routed_at=started,
                    ended_at=started + timedelta(minutes=4 + c % 7),
                )
            )
        publish_rule_set(
            session,
            build_rules([q.name for q in queues], [i.name for i in intents], [a.id for a in agents]),
            "bench",
            NOW,
            note="200 rules",
        )
        return caller.id, intents[0].name


def _t(hour: int):
    from datetime import time as clock_time

    return clock_time(hour)


def measure(label: str, runs: int, step: Callable[[], object]) -> None:
    for _ in range(min(50, runs)):
        step()  # warm up caches and connections
    timings = []
    started = time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        timings.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(
        f"{label:<34} median {statistics.median(timings):7.3f} ms   p99 {p99:7.3f} ms   "
        f"{runs / total:8.0f} decisions/s   ({runs} runs)"
    )


def main() -> None:
    configure_logging(logging.WARNING)  # one info line per decision would measure the terminal
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL")
    schema = None
    tmp = None
    if server_url:
        base = load_settings({"DATABASE_URL": server_url}).database_url
        schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    else:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench.sqlite3"
    db = Database(url)
    try:
        upgrade(db.engine)
        caller_id, intent = seed(db)
        print(
            f"routing benchmark on {db.engine.dialect.name}: {RULES} rules, caller with {PAST_CONTACTS} past contacts"
        )

        def full_decision() -> object:
            with db.session() as session:
                return route_contact(
                    session, caller_id=caller_id, intent_name=intent, words=None, language="nl", now=NOW
                )

        with db.session() as session:
            caller, has_open_promise = routed_caller(session, caller_id, None)
            snapshot, _ = load_snapshot(
                session,
                caller=caller,
                has_open_promise=has_open_promise,
                number=None,
                intent=center_config(session).intent_named(intent),
                language="nl",
                now=NOW,
            )
            rule_set = live_rules(session)
        decision = evaluate_rules(rule_set, snapshot)
        print(
            f"  repeat count {decision.repeat_count}, {len(decision.matched_rules)} rules matched, "
            f"queue {decision.queue_name}"
        )
        statements: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        full_decision()
        event.remove(db.engine, "before_cursor_execute", count)
        print(f"  {len(statements)} SQL statements per decision")
        if os.environ.get("BENCH_SHOW_SQL"):
            print("\n\n".join(statements))
        measure("route_contact (load + evaluate)", args.runs, full_decision)
        measure("evaluate_rules (pure)", args.runs * 5, lambda: evaluate_rules(rule_set, snapshot))
    finally:
        db.dispose()
        if schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        if tmp:
            tmp.cleanup()


if __name__ == "__main__":
    main()
