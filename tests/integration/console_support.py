"""Helpers for the console tests: users, logging in through the real form with its CSRF token."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from console.users import add_user
from terugbel.db import Database

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(
    db: Database, now: Any, username: str, role: str, *, agent_id: int | None = None, language: str = "en"
) -> int:
    with db.session() as session:
        return add_user(
            session, username=username, password=PASSWORD, role=role, now=now, agent_id=agent_id, language=language
        ).id


def csrf_from(client: Any, path: str = "/console/login") -> str:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(client: Any, username: str, password: str = PASSWORD) -> Any:
    token = csrf_from(client)
    return client.post("/console/login", data={"username": username, "password": password, "csrf_token": token})


def logged_in_client(
    app: Any, db: Database, now: Any, role: str, *, agent_id: int | None = None, language: str = "en"
) -> tuple[Any, str]:
    """A fresh test client logged in as a new user with `role` (console in `language`), with a CSRF token."""
    client = app.test_client()
    username = f"{role}-{agent_id or 'x'}" + ("" if language == "en" else f"-{language}")
    make_user(db, now, username, role, agent_id=agent_id, language=language)
    response = log_in(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, csrf_from(client, "/console/")


def seed_numbers_day(db: Database) -> None:
    """Monday 23 November 2026 in two queues, with the numbers worked out by hand in EXPECTED_DAY.

    Contacts (local time; A-D are known callers, "?" is withheld):
      1 A 09:00 factuur/facturen  agent, follow-up       routed after 20 s, 1 question
      2 A 25-11 factuur/facturen  agent, resolved        (after the day: repeats 1 and 9)
      3 B 10:00 modem/technisch   callback booked        30 s, 2 questions
      4 B 26-11 factuur/facturen  agent                  (other intent: does not repeat 3)
      5 C 11:00 no queue          informed by incident   0 questions
      6 D 12:00 modem/technisch   abandoned in queue     10 s, 1 question (repeats 7)
      7 D 20-11 modem/technisch   agent, resolved        (before the day)
      8 ? 13:00 no queue          abandoned in menu      2 questions
      9 A 14:00 factuur/facturen  agent                  40 s, 1 question (repeats 1)
    Callbacks with a window that day: facturen 10:00 dialled 10:01 and connected (kept); facturen
    11:00 first dialled 11:20 (late by 300 s); technisch 14:00 never dialled (missed); technisch
    15:00 moved by us; technisch 16:00 cancelled.
    """
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from callbacks.models import CallbackPromise
    from routing.models import Caller, Contact, Intent, Queue

    zone = ZoneInfo("Europe/Amsterdam")

    def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, second, tzinfo=zone)

    with db.session() as session:
        facturen = Queue(name="facturen", label="Facturen", skill="facturen")
        technisch = Queue(name="technisch", label="Technisch", skill="technisch")
        session.add_all([facturen, technisch])
        session.flush()
        factuur = Intent(name="factuur", label_nl="Factuur", label_en="Invoice", queue_id=facturen.id)
        modem = Intent(name="modem", label_nl="Modem", label_en="Modem", queue_id=technisch.id)
        session.add_all([factuur, modem])
        callers = {
            key: Caller(number=number, name=name, created_at=at(1, 9))
            for key, number, name in [
                ("A", "+31611111111", "Monique"),
                ("B", "+31622222222", "Jan"),
                ("C", "+31633333333", "Pieter"),
                ("D", "+31644444444", "Emma"),
            ]
        }
        session.add_all(callers.values())
        session.flush()

        def contact(who: str | None, start: datetime, intent: Any, queue: Any, outcome: str, **extra: Any) -> None:
            routed = extra.pop("routed", None)
            session.add(
                Contact(
                    caller_id=callers[who].id if who else None,
                    channel="call",
                    intent_id=intent.id if intent else None,
                    queue_id=queue.id if queue else None,
                    outcome=outcome,
                    started_at=start,
                    routed_at=start + timedelta(seconds=routed) if routed is not None else None,
                    **extra,
                )
            )

        session.flush()
        contact("A", at(23, 9), factuur, facturen, "agent", resolved=False, routed=20, questions_asked=1)
        contact("A", at(25, 10), factuur, facturen, "agent", resolved=True, routed=15, questions_asked=1)
        contact("B", at(23, 10), modem, technisch, "callback_booked", routed=30, questions_asked=2)
        contact("B", at(26, 10), factuur, facturen, "agent", routed=30, questions_asked=1)
        contact("C", at(23, 11), None, None, "informed_by_incident", questions_asked=0)
        contact("D", at(23, 12), modem, technisch, "abandoned", routed=10, questions_asked=1)
        contact("D", at(20, 12), modem, technisch, "agent", resolved=True, routed=10, questions_asked=1)
        contact(None, at(23, 13), None, None, "abandoned", questions_asked=2)
        contact("A", at(23, 14), factuur, facturen, "agent", routed=40, questions_asked=1)

        def promise(queue: Any, number: str, hour: int, state: str, **extra: Any) -> None:
            session.add(
                CallbackPromise(
                    queue_id=queue.id,
                    number=number,
                    language="nl",
                    timezone="Europe/Amsterdam",
                    window_start=at(23, hour),
                    window_end=at(23, hour, 15),
                    planned_dial_at=at(23, hour),
                    state=state,
                    booked_at=at(23, 8),
                    **extra,
                )
            )

        promise(facturen, "+31600000001", 10, "completed", first_dial_at=at(23, 10, 1), connected_at=at(23, 10, 2))
        promise(facturen, "+31600000002", 11, "missed", first_dial_at=at(23, 11, 20))
        promise(technisch, "+31600000003", 14, "missed")
        promise(technisch, "+31600000004", 15, "moved", moved_by_us=True)
        promise(technisch, "+31600000005", 16, "cancelled")


# The numbers of seed_numbers_day, computed by hand (see console/metrics.py for the definitions).
EXPECTED_DAY = {
    "facturen": {
        "calls": "2",
        "fcr": "0%",
        "repeat": "50%",
        "due": "2",
        "kept": "50%",
        "connected": "50%",
        "late": "1",
        "lateness": "150",
        "resolved": "0",
        "moved": "0",
        "routed": "30.0",
        "questions": "1.00",
        "informed": "0",
        "abandoned-menu": "0",
        "abandoned-queue": "0",
    },
    "technisch": {
        "calls": "2",
        "fcr": "100%",
        "repeat": "50%",
        "due": "1",
        "kept": "0%",
        "connected": "0%",
        "late": "0",
        "lateness": "–",
        "resolved": "0",
        "moved": "1",
        "routed": "20.0",
        "questions": "1.50",
        "informed": "0",
        "abandoned-menu": "0",
        "abandoned-queue": "1",
    },
    "none": {
        "calls": "2",
        "fcr": "100%",
        "repeat": "0%",
        "due": "0",
        "kept": "–",
        "connected": "–",
        "late": "0",
        "lateness": "–",
        "resolved": "0",
        "moved": "0",
        "routed": "–",
        "questions": "1.00",
        "informed": "1",
        "abandoned-menu": "1",
        "abandoned-queue": "0",
    },
    "total": {
        "calls": "6",
        "fcr": "50%",
        "repeat": "40%",
        "due": "3",
        "kept": "33%",
        "connected": "33%",
        "late": "1",
        "lateness": "150",
        "resolved": "0",
        "moved": "1",
        "routed": "25.0",
        "questions": "1.17",
        "informed": "1",
        "abandoned-menu": "1",
        "abandoned-queue": "1",
    },
}
