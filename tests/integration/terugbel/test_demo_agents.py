"""The demo's simulated agents leave wrap-up the way a real agent does: an outcome, then available, over the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import select

from routing.models import Agent, Contact
from terugbel.demo_agents import finish_wrap_up, issue_agent_tokens
from terugbel.runtime import Runtime
from terugbel.seed import seed_demo


def test_an_agent_in_wrap_up_records_the_outcome_and_is_available_again(
    runtime: Runtime, live_app: Any, clock: Any
) -> None:
    with runtime.db.session() as session:
        seed_demo(session, clock.now(), runtime.settings.zone)
        first = issue_agent_tokens(session, clock.now())
    with runtime.db.session() as session:
        tokens = issue_agent_tokens(session, clock.now())  # a second demo: the first one's tokens stop working
        ahmed = session.scalars(select(Agent).where(Agent.phone == "+31611110002")).one()
        ahmed.state = "wrap_up"
        handled = Contact(caller_id=None, channel="call", agent_id=ahmed.id, outcome="agent",
                          started_at=clock.now() - timedelta(minutes=2))
        session.add(handled)
        session.flush()
        ahmed_id, contact_id = ahmed.id, handled.id
    assert set(tokens) == {"sanne", "ahmed", "bram", "eva"}

    with requests.Session() as stale:
        stale.headers["Authorization"] = f"Bearer {first['ahmed']}"
        assert stale.get(f"{live_app.base_url}/api/me/desk", timeout=10).status_code == 401
    with requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {tokens['ahmed']}"
        assert finish_wrap_up(api, live_app.base_url) is True
        assert finish_wrap_up(api, live_app.base_url) is False  # available now: nothing more to do

    with runtime.db.session() as session:
        assert session.get(Agent, ahmed_id).state == "available"
        assert session.get(Contact, contact_id).resolved is True
