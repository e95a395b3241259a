"""The demo's simulated agents at their desks: after each conversation they record an outcome and are free again.

The simulator plays their phones (they answer, accept the whisper and talk a few seconds); this
plays what they do when they hang up, through the agent API (`/api/me/*`) with a token of their own, the
way an agent's own tool would: no shortcut into the database.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.models import ApiToken, Role
from console.tokens import create_token, revoke_token
from routing.models import Agent, AgentState
from telephony.simulator import Simulator
from terugbel.seed import DEMO_AGENTS

log = logging.getLogger(__name__)

TOKEN_NAME_PREFIX = "demo-agent-"
# After their phone call ends, an agent looks at their desk this many times, this far apart, for wrap-up.
WRAP_UP_LOOKS = 10
LOOK_AGAIN_SECONDS = 0.5


def issue_agent_tokens(session: Session, now: datetime) -> dict[str, str]:
    """A new API token for each demo agent (username -> secret); the tokens of an earlier demo are revoked."""
    names = [TOKEN_NAME_PREFIX + spec.username for spec in DEMO_AGENTS]
    for token in session.scalars(select(ApiToken).where(ApiToken.name.in_(names), ApiToken.revoked_at.is_(None))):
        revoke_token(session, token.id, now)
    tokens: dict[str, str] = {}
    for spec in DEMO_AGENTS:
        agent_id = session.scalar(select(Agent.id).where(Agent.phone == spec.phone))
        if agent_id is not None:
            tokens[spec.username] = create_token(
                session, name=TOKEN_NAME_PREFIX + spec.username, role=Role.AGENT.value, now=now, agent_id=agent_id
            )
    return tokens


def finish_wrap_up(api: requests.Session, app_url: str) -> bool:
    """If the token's agent is in wrap-up: record each outcome they still owe as resolved, then be available.

    Returns whether the agent was in wrap-up.
    """
    desk = api.get(f"{app_url}/api/me/desk", timeout=10)
    desk.raise_for_status()
    if desk.json()["state"] != AgentState.WRAP_UP.value:
        return False
    for pending in desk.json()["pending_outcomes"]:
        recorded = api.post(
            f"{app_url}/api/me/contacts/{pending['contact_id']}/outcome", json={"resolved": True}, timeout=10
        )
        recorded.raise_for_status()
    api.put(f"{app_url}/api/me/state", json={"state": AgentState.AVAILABLE.value}, timeout=10).raise_for_status()
    return True


@contextmanager
def agents_at_their_desks(simulator: Simulator, app_url: str, tokens: dict[str, str]) -> Iterator[None]:
    """While the block runs, each demo agent whose phone call ends finishes wrap-up at their desk."""
    by_phone = {spec.phone: spec.username for spec in DEMO_AGENTS if spec.username in tokens}
    hung_up: queue.Queue[str | None] = queue.Queue()
    simulator.on_call_ended(lambda call: hung_up.put(call.to) if call.to in by_phone else None)
    sessions = {}
    for username, secret in tokens.items():
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {secret}"
        sessions[username] = api

    def tend() -> None:
        while (phone := hung_up.get()) is not None:
            username = by_phone[phone]
            try:
                _after_the_call(sessions[username], app_url)
            except requests.RequestException as exc:
                log.warning("demo agent %s could not finish wrap-up: %s", username, type(exc).__name__)

    thread = threading.Thread(target=tend, name="demo-agents", daemon=True)
    thread.start()
    try:
        yield
    finally:
        hung_up.put(None)
        thread.join(timeout=15)
        for api in sessions.values():
            api.close()


def _after_the_call(api: requests.Session, app_url: str) -> None:
    """The app puts the agent in wrap-up as it hears the call ended; look a few times, then give up.

    A callback's agent is made available by the app itself and never shows wrap-up.
    """
    for _ in range(WRAP_UP_LOOKS):
        if finish_wrap_up(api, app_url):
            return
        time.sleep(LOOK_AGAIN_SECONDS)
