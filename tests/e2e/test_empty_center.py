"""A contact center built from an empty database through the public interfaces only.

The JSON API sets it up (a queue with its hours, an intent, two agents and their shifts); the
simulated Twilio places the calls. A new number calls, is routed, calls again about the same
problem and reaches the same agent with priority and a whisper that names the earlier contact;
first-contact resolution counts the second call as a repeat.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from routing.models import Agent, Caller, Contact, Queue
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime

NEW_NUMBER = "+31687650042"


class Api:
    """The center's JSON API as an operator's script uses it: each call must succeed."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers.update(headers)

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.base_url}/api{path}", timeout=30, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


@pytest.fixture
def api(live_app: Any, api_token: Any) -> Api:
    return Api(live_app.base_url, api_token("supervisor"))


def build_center(api: Api, today: str) -> dict[str, int]:
    """A billing queue open 08:00–21:00 every day, one intent, Sanne and Kees on shift today."""
    hours = [{"weekday": day, "opens": "08:00", "closes": "21:00"} for day in range(7)]
    queue = api.call(
        "POST",
        "/queues",
        201,
        json={"name": "facturen", "label": "Facturen", "hours": hours, "default_handle_seconds": 120},
    )
    api.call(
        "POST",
        "/intents",
        201,
        json={
            "name": "factuur",
            "label_nl": "facturen",
            "label_en": "invoices",
            "queue": "facturen",
            "key": "1",
            "phrases_nl": ["factuur klopt niet", "rekening"],
            "phrases_en": ["invoice is wrong"],
        },
    )
    agents: dict[str, int] = {"queue": queue["id"]}
    for name, phone in (("Sanne", "06 1111 0001"), ("Kees", "06-11110002")):
        agent = api.call(
            "POST", "/agents", 201, json={"name": name, "phone": phone, "skills": ["facturen"], "language": "nl"}
        )
        api.call(
            "POST",
            "/shifts",
            201,
            json={"agent_id": agent["id"], "starts_at": f"{today}T08:00", "ends_at": f"{today}T17:00"},
        )
        api.call("POST", f"/agents/{agent['id']}/state", 200, json={"state": "available"})
        agents[name] = agent["id"]
    return agents


def test_a_center_built_through_the_api_remembers_a_new_caller_and_routes_the_repeat_by_history(
    api: Api, sim: Simulator, runtime: Runtime, clock: ManualClock
) -> None:
    with runtime.db.session() as session:
        for model in (Queue, Agent, Caller, Contact):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model.__name__
    today = clock.now().astimezone(runtime.settings.zone).date().isoformat()
    ids = build_center(api, today)
    phones = {agent["id"]: agent["phone"] for agent in api.call("GET", "/agents", 200)}
    assert set(phones.values()) == {"+31611110001", "+31611110002"}
    for phone in phones.values():
        sim.add_agent(phone)

    first = sim.place_inbound_call(NEW_NUMBER, script=["mijn factuur klopt niet"], max_seconds=600)
    sim.run_until_idle()
    first_agent = next(agent_id for agent_id, phone in phones.items() if any(c.to == phone for c in sim.calls()))
    # The first agent wrapped up and is free again; so is the other one, who has never spoken to the caller.
    api.call("POST", f"/agents/{first_agent}/state", 200, json={"state": "available"})

    second = sim.place_inbound_call(NEW_NUMBER, script=["mijn factuur klopt nog steeds niet"], max_seconds=600)
    sim.run_until_idle()

    with runtime.db.session() as session:
        contacts = {c.call_sid: c for c in session.scalars(select(Contact))}
    first_contact, second_contact = contacts[first.call_sid], contacts[second.call_sid]
    assert first_contact.queue_id == second_contact.queue_id == ids["queue"]
    assert first_contact.agent_id == second_contact.agent_id == first_agent
    assert second_contact.priority > first_contact.priority
    rung = [c for c in sim.calls() if c.to in phones.values()]
    assert {c.to for c in rung} == {phones[first_agent]}  # the other agent was never rung
    whispers = {c.transcript.system_text.split(".")[0] for c in rung}
    assert whispers == {
        "Onbekende beller, mijn factuur klopt niet, eerste contact deze week",
        "Onbekende beller, mijn factuur klopt nog steeds niet, tweede contact deze week",
    }

    found = api.call("GET", "/callers", 200, params={"number": "06 8765 0042"})["callers"]
    assert [(c["number"], c["contacts_count"]) for c in found] == [(NEW_NUMBER, 2)]
    numbers = api.call("GET", "/metrics", 200, params={"from": today})
    total = next(row for row in numbers["queues"] if row["queue"] == "*")
    assert (total["repeat_contacts"], total["repeat_base"]) == (1, 2)
    assert (total["fcr_resolved"], total["fcr_base"]) == (0, 1)
