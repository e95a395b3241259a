"""`terugbel seed demo`: a small contact center to play the stories with. Safe to run twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.models import User
from console.users import add_user
from routing.models import Agent, AgentState, BusinessHours, Caller, Contact, Intent, Queue, Shift

DEMO_PASSWORD = "terugbel-demo"


@dataclass(frozen=True)
class DemoAgent:
    name: str
    username: str
    phone: str
    skills: tuple[str, ...]


DEMO_QUEUES = (
    {"name": "technisch", "label": "Technische hulp", "skill": "technisch"},
    {"name": "facturen", "label": "Facturen en betalingen", "skill": "facturen"},
)
DEMO_AGENTS = (
    DemoAgent("Sanne Jansen", "sanne", "+31611110001", ("facturen",)),
    DemoAgent("Ahmed El Amrani", "ahmed", "+31611110002", ("technisch",)),
    DemoAgent("Bram de Boer", "bram", "+31611110003", ("technisch", "facturen")),
    DemoAgent("Eva Visser", "eva", "+31611110004", ("facturen",)),
)
DEMO_INTENTS: tuple[dict[str, Any], ...] = (
    {
        "name": "internet",
        "label_nl": "internetstoring",
        "label_en": "internet problem",
        "queue": "technisch",
        "key": "1",
        "phrases_nl": ["internet doet het niet", "geen internet", "wifi", "modem knippert", "storing"],
        "phrases_en": ["internet is down", "no internet", "wifi", "modem blinking", "outage"],
    },
    {
        "name": "tv",
        "label_nl": "televisie",
        "label_en": "television",
        "queue": "technisch",
        "key": "2",
        "phrases_nl": ["tv", "televisie", "geen beeld", "zender"],
        "phrases_en": ["tv", "television", "no picture", "channel"],
    },
    {
        "name": "factuur",
        "label_nl": "factuur",
        "label_en": "invoice",
        "queue": "facturen",
        "key": "3",
        "phrases_nl": ["factuur", "rekening", "te veel betaald", "klopt niet", "incasso"],
        "phrases_en": ["invoice", "bill", "charged too much", "wrong amount", "direct debit"],
    },
    {
        "name": "bezorging",
        "label_nl": "bezorging",
        "label_en": "delivery",
        "queue": "facturen",
        "key": "4",
        "phrases_nl": ["pakket", "bezorging", "niet aangekomen", "levering"],
        "phrases_en": ["package", "parcel", "never arrived", "delivery"],
    },
)
DEMO_CALLERS: tuple[dict[str, Any], ...] = (
    {"number": "+31612345678", "name": "Pieter Bakker", "language": "nl", "products": ["internet"]},
    {"number": "+31687654321", "name": "Monique de Vries", "language": "nl", "products": ["internet", "tv"]},
    # Story 6 names +44 7700 900123, a range reserved for fiction that no network connects and the
    # callback service rightly refuses to book; the demo gives Emma a real-looking UK mobile instead.
    {"number": "+447911123456", "name": "Emma Clarke", "language": "en", "products": []},
)


# The console's other users: Karin supervises, Joost administers (users, tokens, the job dashboard).
DEMO_STAFF = (("karin", "supervisor"), ("joost", "admin"))

# A realistic day for the seeded center; `terugbel demo` opens around the clock instead, so that
# whoever tries it at 22:00 still reaches an agent. 23:59 because opening hours end on the day they
# start (closes > opens): the demo is closed for that last minute.
OFFICE_HOURS = (time(8), time(21))
AROUND_THE_CLOCK = (time(0), time(23, 59))


def seed_demo(
    session: Session, now: datetime, zone: ZoneInfo, hours: tuple[time, time] = OFFICE_HOURS
) -> dict[str, int]:
    """Load (or complete) the demo contact center; return how many rows of each kind were added.

    Agents work the queues' `hours` today and tomorrow.
    """
    opens, closes = hours
    added = {"queues": 0, "agents": 0, "shifts": 0, "intents": 0, "callers": 0, "contacts": 0, "users": 0}
    queues: dict[str, Queue] = {}
    for spec in DEMO_QUEUES:
        queue = session.scalar(select(Queue).where(Queue.name == spec["name"]))
        if queue is None:
            queue = Queue(**spec, timezone=zone.key)
            session.add(queue)
            session.flush()
            for weekday in range(7):
                session.add(BusinessHours(queue_id=queue.id, weekday=weekday, opens=opens, closes=closes))
            added["queues"] += 1
        queues[spec["name"]] = queue

    today = now.astimezone(zone).date()
    shift_start = datetime.combine(today, opens, zone)
    shift_length = datetime.combine(today, closes) - datetime.combine(today, opens)
    for demo in DEMO_AGENTS:
        agent = session.scalar(select(Agent).where(Agent.phone == demo.phone))
        if agent is None:
            agent = Agent(name=demo.name, phone=demo.phone, skills=list(demo.skills), state=AgentState.AVAILABLE.value)
            agent.state_changed_at = now
            session.add(agent)
            session.flush()
            added["agents"] += 1
        for day in (0, 1):
            start = shift_start + timedelta(days=day)
            exists = session.scalar(select(Shift.id).where(Shift.agent_id == agent.id, Shift.starts_at == start))
            if exists is None:
                session.add(Shift(agent_id=agent.id, starts_at=start, ends_at=start + shift_length))
                added["shifts"] += 1
        if session.scalar(select(User.id).where(User.username == demo.username)) is None:
            add_user(
                session,
                username=demo.username,
                password=DEMO_PASSWORD,
                role="agent",
                now=now,
                agent_id=agent.id,
            )
            added["users"] += 1
    for username, role in DEMO_STAFF:
        if session.scalar(select(User.id).where(User.username == username)) is None:
            add_user(session, username=username, password=DEMO_PASSWORD, role=role, now=now)
            added["users"] += 1

    for spec in DEMO_INTENTS:
        if session.scalar(select(Intent.id).where(Intent.name == spec["name"])) is None:
            fields = {k: v for k, v in spec.items() if k != "queue"}
            session.add(Intent(**fields, queue_id=queues[spec["queue"]].id))
            added["intents"] += 1
    session.flush()

    for spec in DEMO_CALLERS:
        if session.scalar(select(Caller.id).where(Caller.number == spec["number"])) is None:
            session.add(Caller(**spec, created_at=now))
            added["callers"] += 1
    session.flush()

    # Monique called two days ago about her invoice; Sanne took it and it is not resolved (story 2).
    monique = session.scalar(select(Caller).where(Caller.number == "+31687654321"))
    sanne = session.scalar(select(Agent).where(Agent.phone == "+31611110001"))
    factuur = session.scalar(select(Intent).where(Intent.name == "factuur"))
    assert monique is not None and sanne is not None and factuur is not None
    if session.scalar(select(Contact.id).where(Contact.caller_id == monique.id)) is None:
        started = now - timedelta(days=2)
        session.add(
            Contact(
                caller_id=monique.id,
                channel="call",
                intent_id=factuur.id,
                transcript="mijn factuur is te hoog",
                path=["problem", "routed"],
                outcome="agent",
                resolved=False,
                queue_id=factuur.queue_id,
                agent_id=sanne.id,
                started_at=started,
                routed_at=started + timedelta(seconds=20),
                ended_at=started + timedelta(minutes=7),
            )
        )
        added["contacts"] += 1
    return added
