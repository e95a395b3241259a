"""Racing state changes for one agent and one waiting caller: one reservation, one ring.

The requests go over HTTP to the app served in threads, at once (a barrier releases them), as three
supervisors' clicks or a retrying client would. On PostgreSQL they run truly side by side; on SQLite
the writers take turns, and the same test still means something: a request that reads the agent
after another one reserved them must neither free that caller nor ring the agent again.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from sqlalchemy import select

from routing.models import Agent, Contact, QueueEntry
from telephony.simulator import Simulator
from terugbel.runtime import Runtime

SANNE = "+31611110001"
CALLER = "+31687650001"
RACERS = 4


@pytest.fixture
def facturen(make_queue: Any, make_intent: Any) -> Any:
    queue = make_queue("facturen", default_handle_seconds=120)
    make_intent("factuur", queue, key="1", label_nl="facturen", nl=["factuur klopt niet"])
    return queue


def entry_state(runtime: Runtime, call_sid: str) -> str | None:
    with runtime.db.session() as session:
        return session.scalar(select(QueueEntry.state).where(QueueEntry.call_sid == call_sid))


def race(url: str, headers: dict[str, str], body: dict[str, str]) -> list[requests.Response]:
    """POST the same body from RACERS threads released together; the responses in any order."""
    barrier = threading.Barrier(RACERS)
    responses: list[requests.Response] = []
    lock = threading.Lock()

    def post() -> None:
        barrier.wait(timeout=10)
        response = requests.post(url, json=body, headers=headers, timeout=30)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=post) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_racing_state_changes_reserve_one_waiting_caller_once_and_ring_the_agent_once(
    sim: Simulator, runtime: Runtime, live_app: Any, api_token: Any, make_agent: Any, facturen: Any
) -> None:
    sanne = make_agent("Sanne", SANNE, ("facturen",), state="away")
    sim.add_agent(SANNE)
    waiting = sim.place_inbound_call(CALLER, script=["mijn factuur klopt niet"], wait=False, max_seconds=600)
    sim.run_until(lambda: entry_state(runtime, waiting.call_sid) == "waiting", max_seconds=120)
    sim.run_for(5)  # the hold message has played once: the caller is in Twilio's queue

    responses = race(
        f"{live_app.base_url}/api/agents/{sanne.id}/state", api_token("supervisor"), {"state": "available"}
    )
    assert [r.status_code for r in responses] == [200] * RACERS, [r.text for r in responses]
    reservations = [r.json()["reservation"] for r in responses if r.json()["reservation"] is not None]
    assert len(reservations) == 1
    with runtime.db.session() as session:
        entry = session.scalars(select(QueueEntry).where(QueueEntry.call_sid == waiting.call_sid)).one()
        assert reservations[0]["queue_entry_id"] == entry.id
        assert (entry.state, entry.reserved_agent_id) == ("reserved", sanne.id)
        assert session.get(Agent, sanne.id).state == "reserved"

    sim.run_until_idle()
    rings = [call for call in sim.calls() if call.to == SANNE]
    assert len(rings) == 1
    with runtime.db.session() as session:
        contact = session.scalars(select(Contact).where(Contact.call_sid == waiting.call_sid)).one()
    assert (contact.outcome, contact.agent_id) == ("agent", sanne.id)
