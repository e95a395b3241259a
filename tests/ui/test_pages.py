"""Every console page in Chromium at a laptop and a phone width: a full-page screenshot of each into
test-artifacts/pages/, no horizontal overflow, and axe-core finds nothing serious or critical."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from callbacks.models import CallbackPromise
from callbacks.offers import ensure_slots
from routing.models import Agent, Caller, Queue, QueueEntry
from routing.rule_sets import publish_rule_set
from terugbel.seed import DEMO_PASSWORD, seed_demo
from tests.ui.conftest import ARTIFACTS

pytestmark = pytest.mark.ui
AMS = ZoneInfo("Europe/Amsterdam")
WIDTHS = {"laptop": (1440, 900), "phone": (390, 844)}
BLOCKING_IMPACTS = {"serious", "critical"}
SHOTS = ARTIFACTS / "pages"


def _seed_contact_center(db: Any, clock: Any) -> None:
    """The demo contact center, with promises due and at risk, callers waiting and a rule set."""
    now = clock.now()
    with db.session() as session:
        seed_demo(session, now, AMS)
        queues = {q.name: q for q in session.scalars(select(Queue))}
        callers = session.scalars(select(Caller).order_by(Caller.id)).all()
        sanne = session.scalar(select(Agent).where(Agent.phone == "+31611110001"))
        assert sanne is not None and callers
        for queue in queues.values():
            ensure_slots(session, queue.id, now, now + timedelta(days=7), now)
        first_queue = next(iter(queues.values()))
        for index, caller in enumerate(callers):
            start = now + timedelta(minutes=20 + 15 * index)
            session.add(
                CallbackPromise(
                    caller_id=caller.id,
                    queue_id=first_queue.id,
                    number=caller.number,
                    language="nl",
                    timezone=AMS.key,
                    problem="mijn factuur klopt niet",
                    preferred_agent_id=sanne.id,
                    window_start=start,
                    window_end=start + timedelta(minutes=15),
                    planned_dial_at=start,
                    booked_at=now,
                    at_risk=index == 0,
                )
            )
            session.add(
                QueueEntry(
                    call_sid=f"CA{index:032d}",
                    queue_id=first_queue.id,
                    priority=index,
                    enqueued_at=now - timedelta(minutes=2 + index * 3),
                )
            )
        rules = [
            {
                "name": "Werkdagavond naar Sanne",
                "conditions": {"day_time": {"weekdays": [0, 1, 2, 3, 4], "from": "18:00", "to": "21:00"}},
                "actions": {"route_to_agent": sanne.id, "stop": True},
            }
        ]
        publish_rule_set(session, rules, actor="karin", now=now, note="avonddienst")


def _log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def _dry_run(page: Any) -> None:
    page.fill("#dry-words", "mijn factuur is te hoog")
    page.click("#check-button")
    page.wait_for_selector("#dry-run-result")


def _supervisor_pages(db: Any) -> list[tuple[str, str, Callable[[Any], None] | None]]:
    with db.session() as session:
        queue_id = session.scalar(select(Queue.id).order_by(Queue.name))
        agent_id = session.scalar(select(Agent.id).order_by(Agent.name))
    return [
        ("board", "/console/board", None),
        ("metrics", "/console/metrics", None),
        ("rules", "/console/rules", None),
        ("rules-dry-run", "/console/rules", _dry_run),
        ("incidents", "/console/incidents", None),
        ("intents", "/console/intents", None),
        ("queues", "/console/queues", None),
        ("queue", f"/console/queues/{queue_id}", None),
        ("capacity", f"/console/queues/{queue_id}/capacity", None),
        ("shifts", "/console/shifts", None),
        ("agents", "/console/agents", None),
        ("agent-edit", f"/console/agents/{agent_id}", None),
        ("queue-new", "/console/queues/new", None),
    ]


def _check_page(page: Any, name: str, width_name: str, axe: Axe, problems: list[str]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width_name}.png"), full_page=True)
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        problems.append(f"{name} at {width_name} width: {overflow} px wider than the window")
    if width_name != "laptop":
        return
    results = axe.run(page)
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING_IMPACTS:
            targets = [node["target"] for node in violation["nodes"][:3]]
            problems.append(f"{name}: {violation['impact']} {violation['id']} ({violation['help']}) at {targets}")


@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_every_console_page_fits_the_screen_and_passes_axe(
    live_app: Any, browser: Any, db: Any, clock: Any, width_name: str
) -> None:
    _seed_contact_center(db, clock)
    width, height = WIDTHS[width_name]
    axe = Axe()
    problems: list[str] = []
    for username, pages in (
        ("karin", _supervisor_pages(db)),
        ("sanne", [("agent-view", "/console/", None)]),
    ):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="nl-NL")
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(f"{live_app.base_url}/console/login")
        if username == "karin":
            _check_page(page, "login", width_name, axe, problems)
        _log_in(page, live_app.base_url, username)
        for name, path, then in pages:
            response = page.goto(f"{live_app.base_url}{path}")
            if response is None or response.status != 200:
                problems.append(f"{path}: answered {response.status if response else 'nothing'}")
                continue
            if then is not None:
                then(page)
            _check_page(page, name, width_name, axe, problems)
        context.close()
    assert problems == []
    assert {Path(p).name for p in SHOTS.glob(f"*-{width_name}.png")} >= {
        f"{name}-{width_name}.png" for name in ("login", "board", "capacity", "agent-view")
    }
