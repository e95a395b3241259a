"""The console in a real browser: agent view, outcome, rule change, incident, numbers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callbacks.models import CallbackPromise
from routing.models import Contact, Intent
from tests.integration.console_support import EXPECTED_DAY, PASSWORD, make_user, seed_numbers_day

if TYPE_CHECKING:
    from playwright.sync_api import Dialog

pytestmark = pytest.mark.ui
AMS = ZoneInfo("Europe/Amsterdam")


def log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def test_agent_sees_the_next_callback_with_its_history_and_records_an_outcome(
    live_app: Any,
    page: Any,
    screenshot: Any,
    db: Any,
    clock: Any,
    make_queue: Any,
    make_agent: Any,
    make_caller: Any,
    make_intent: Any,
) -> None:
    queue = make_queue("facturen")
    sanne = make_agent("Sanne", skills=("facturen",))
    make_intent("factuur", queue, label_nl="Factuur")
    monique = make_caller("+31611112222", "Monique de Vries")
    sneaky = make_caller("+31633334444", "<script>alert('naam')</script>")
    now = clock.now()
    with db.session() as session:
        intent_id = session.scalar(select(Intent.id))
        earlier = Contact(
            caller_id=monique.id,
            channel="call",
            intent_id=intent_id,
            queue_id=queue.id,
            agent_id=sanne.id,
            outcome="agent",
            started_at=now - timedelta(days=2),
            transcript="mijn factuur is te hoog",
        )
        session.add(earlier)
        for caller, minutes, problem in (
            (monique, 30, "factuur klopt nog steeds niet"),
            (sneaky, 60, "<img src=x onerror=alert(1)>"),
        ):
            session.add(
                CallbackPromise(
                    caller_id=caller.id,
                    queue_id=queue.id,
                    intent_id=intent_id,
                    number=caller.number,
                    language="nl",
                    timezone="Europe/Amsterdam",
                    problem=problem,
                    preferred_agent_id=sanne.id,
                    window_start=now + timedelta(minutes=minutes),
                    window_end=now + timedelta(minutes=minutes + 15),
                    planned_dial_at=now + timedelta(minutes=minutes),
                    booked_at=now,
                )
            )
        session.flush()
        earlier_id = earlier.id
    make_user(db, now, "sanne", "agent", agent_id=sanne.id, language="nl")
    dialogs: list[str] = []

    def note_and_dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", note_and_dismiss)

    log_in(page, live_app.base_url, "sanne")
    first = page.locator("article.callback").first
    assert "vandaag tussen 09:30 en 09:45" in first.inner_text()
    assert first.locator(".caller-name").inner_text() == "Monique de Vries"
    assert "factuur klopt nog steeds niet" in first.inner_text()
    assert first.locator(".contacts-week").inner_text() == "1"
    assert "mijn factuur is te hoog" in first.locator(".timeline").inner_text()
    assert (
        page.locator("article.callback").nth(1).locator(".caller-name").inner_text() == "<script>alert('naam')</script>"
    )
    screenshot("agent-view")

    # My state in one click, without a full reload.
    page.locator("#state-toggle").click()
    page.wait_for_function("document.querySelector('#my-state').textContent.includes('afwezig')")

    outcome = page.locator(f"#outcome-{earlier_id}")
    outcome.get_by_label("Opvolging nodig").check()
    outcome.get_by_label("Notitie").fill("creditnota aangevraagd")
    outcome.get_by_role("button", name="Uitkomst vastleggen").click()
    page.wait_for_selector("text=Uitkomst vastgelegd.")
    assert page.locator(f"#outcome-{earlier_id}").count() == 0
    with db.session() as session:
        stored = session.get(Contact, earlier_id)
        assert stored is not None and stored.resolved is False and stored.outcome_note == "creditnota aangevraagd"
    assert dialogs == []  # no caller's words ever ran as script


def test_supervisor_changes_a_rule_and_the_next_call_follows_it(
    live_app: Any,
    sim: Any,
    page: Any,
    screenshot: Any,
    db: Any,
    clock: Any,
    make_queue: Any,
    make_intent: Any,
    make_agent: Any,
) -> None:
    make_queue("algemeen")
    retentie = make_queue("retentie")
    make_intent("opzeggen", retentie, nl=["opzeggen", "abonnement opzeggen"], en=["cancel"])
    make_agent("Karin", skills=("algemeen", "retentie"), state="on_call")
    make_user(db, clock.now(), "karin", "supervisor", language="en")
    log_in(page, live_app.base_url, "karin")
    page.goto(f"{live_app.base_url}/console/rules")

    rule = page.locator("fieldset#rule-0")
    rule.get_by_label("Name").fill("Opzeggers naar retentie")
    rule.get_by_label("Intents (comma-separated)").fill("opzeggen")
    rule.get_by_label("Route to queue").fill("retentei")
    rule.get_by_label("Stop after this rule").check()
    page.click("#check-button")
    field = page.locator("#rule-0-a-route_to_queue")
    assert field.get_attribute("aria-invalid") == "true"
    assert "unknown queue 'retentei'" in page.locator("#err-0-a-route_to_queue").inner_text()

    field.fill("retentie")
    page.fill("#dry-words", "ik wil mijn abonnement opzeggen")
    page.click("#check-button")
    result = page.locator("#dry-run-result")
    assert "→ retentie (Rule 'Opzeggers naar retentie')" in result.inner_text()
    assert "intent is opzeggen" in page.locator("#dry-run-explanation").inner_text()
    screenshot("rule-editor")
    page.fill("#note", "opzeggers naar retentie")
    page.click("#publish-button")
    page.wait_for_selector("text=Published as version 1.")
    assert page.locator("#live-version").inner_text() == "Version 1"
    assert "routing rules published" in page.locator("#audit-log").inner_text()

    call = sim.place_inbound_call("+31687654321", script=["ik wil mijn abonnement opzeggen"], max_seconds=120)
    assert call.errors == []
    with db.session() as session:
        contact = session.scalar(select(Contact).where(Contact.call_sid == call.call_sid))
        assert contact is not None and contact.queue_id == retentie.id
        assert "Opzeggers naar retentie" in (contact.routing_explanation or "")

    # A day later: a second version without the rule, then back to version 1 in one click.
    clock.advance(timedelta(days=1))
    page.locator("#rule-0-remove").check()
    page.click("#publish-button")
    page.wait_for_selector("text=Published as version 2.")
    page.click("#rollback-1")
    page.wait_for_selector("text=Rolled back: version 3 is live.")
    assert page.locator("#rule-0-name").input_value() == "Opzeggers naar retentie"
    audit = page.locator("#audit-log").inner_text()
    assert audit.count("routing rules published") == 2 and "routing rules rolled back" in audit


def test_supervisor_publishes_an_incident_and_a_caller_hears_it_first(
    live_app: Any,
    sim: Any,
    page: Any,
    screenshot: Any,
    db: Any,
    clock: Any,
    make_queue: Any,
    make_intent: Any,
    make_agent: Any,
    make_caller: Any,
) -> None:
    technisch = make_queue("technisch")
    make_intent("internet", technisch, key="1", nl=["internet doet het niet"])
    make_agent("Ahmed", skills=("technisch",), state="on_call")
    jan = make_caller("+31633334444", "Jan Jansen")
    start = clock.now() + timedelta(minutes=30)
    with db.session() as session:
        session.add(
            CallbackPromise(
                caller_id=jan.id,
                queue_id=technisch.id,
                number=jan.number,
                language="nl",
                timezone="Europe/Amsterdam",
                window_start=start,
                window_end=start + timedelta(minutes=15),
                planned_dial_at=start,
                booked_at=clock.now(),
            )
        )
    make_user(db, clock.now(), "karin", "supervisor", language="nl")
    log_in(page, live_app.base_url, "karin")
    page.goto(f"{live_app.base_url}/console/incidents")
    form = page.locator("#incident-form")
    form.get_by_label("Titel").fill("Storing Utrecht")
    form.get_by_label("Bericht (Nederlands)").fill("Er is een internetstoring in regio Utrecht.")
    form.get_by_label("Bericht (Engels)").fill("There is an internet outage in the Utrecht region.")
    page.click("#publish-incident")
    assert "say whom it matches" in page.locator("#incident-match_all-error").inner_text()
    page.locator("#incident-form").get_by_label("Nummervoorvoegsels (komma-gescheiden)").fill("+31612")
    page.fill("#incident-expected_fix_at", "2026-11-23T12:00")
    page.click("#publish-incident")
    page.wait_for_selector("text=Opgeslagen.")
    assert "Storing Utrecht" in page.locator("section[aria-labelledby=active-heading]").inner_text()

    page.goto(f"{live_app.base_url}/console/board")
    board = page.locator("#board-panel").inner_text()
    assert "Storing Utrecht" in board and "Jan Jansen" in board and "Ahmed" in board
    screenshot("supervisor-board")

    call = sim.place_inbound_call("+31612345678", script=[], max_seconds=60)
    assert call.said_by("system")[0] == "Er is een internetstoring in regio Utrecht."
    assert "vandaag om 12:00" in call.system_text


def test_metrics_page_shows_the_numbers_of_a_seeded_day(
    live_app: Any, page: Any, screenshot: Any, db: Any, clock: Any
) -> None:
    seed_numbers_day(db)
    clock.set(datetime(2026, 12, 2, 12, 0, tzinfo=AMS))
    make_user(db, clock.now(), "karin", "supervisor", language="en")
    log_in(page, live_app.base_url, "karin")
    page.goto(f"{live_app.base_url}/console/metrics")
    page.fill("#period-from", "2026-11-23")
    page.fill("#period-to", "2026-11-23")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    for row_id, expected in EXPECTED_DAY.items():
        shown = {
            name: page.locator(f"#numbers-{row_id}-{name}").inner_text().split(" (")[0].strip() for name in expected
        }
        assert shown == expected, row_id
    assert page.locator("svg.chart").count() >= 3
    screenshot("metrics")
    with page.expect_download() as download:
        page.click("#csv-link")
    assert download.value.suggested_filename == "terugbel-numbers-2026-11-23-2026-11-23.csv"


def test_the_console_works_from_the_keyboard(live_app: Any, page: Any, db: Any, clock: Any) -> None:
    make_user(db, clock.now(), "karin", "supervisor", language="nl")
    page.goto(f"{live_app.base_url}/console/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Naar de inhoud"
    page.focus("#username")
    page.keyboard.type("karin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Overzicht voor de supervisor')")
    # Every form control on the board and the rule editor has an accessible name.
    for path in ("/console/board", "/console/rules", "/console/metrics", "/console/incidents"):
        page.goto(f"{live_app.base_url}{path}")
        unnamed = page.evaluate(
            """Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
                 .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                 .map(el => el.name)"""
        )
        assert unnamed == [], path


def test_admin_deletes_a_job_in_rq_dashboard(live_app: Any, page: Any, db: Any, clock: Any, redis_conn: Any) -> None:
    from rq import Queue

    sms = Queue("sms", connection=redis_conn)
    job = sms.enqueue("builtins.print", job_id="sms-outbox-1")
    make_user(db, clock.now(), "root", "admin")
    log_in(page, live_app.base_url, "root")
    page.get_by_role("link", name="Job queues").click()
    page.wait_for_selector("text=sms")
    # The dashboard's own scripts post the delete with the console's CSRF token.
    page.goto(f"{live_app.base_url}/console/jobs/rq/0/view/job/{job.id}")
    page.click("#delete-job-btn")
    with page.expect_response(lambda response: response.url.endswith(f"/job/{job.id}/delete")) as deleted:
        page.click("#confirmation-modal-yes")
    assert deleted.value.status == 200
    assert sms.count == 0
