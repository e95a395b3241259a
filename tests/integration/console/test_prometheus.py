"""`/metrics`: each situation made for real, then read back as Prometheus parses it."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from callbacks.agent_leg import start_attempt
from callbacks.caller_leg import caller_answer, caller_leg_ended
from callbacks.models import AttemptState, PromiseState
from routing.models import AgentState, QueueEntry, QueueEntryState
from telephony.outbox import FAILED, PENDING, queue_sms, redispatch_pending, send_queued_sms
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime
from tests.integration.console.test_metrics import AFTER_THE_WEEK
from tests.integration.console_support import seed_numbers_day
from tests.integration.dispatch_support import add_attempt_in_flight, add_promise

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana-dashboard.json"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Any, api_token: Any) -> Samples:
    response = client.get("/metrics", headers=api_token("supervisor"))
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """The samples of `name` with only `label`, by that label's value."""
    return {labels[0][1]: count for (sample, labels), count in samples.items() if sample == name and len(labels) == 1
            and labels[0][0] == label}  # fmt: skip


def test_metrics_need_a_supervisor_token_and_count_webhook_answers(client: Any, api_token: Any) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers=api_token("agent")).status_code == 403
    name = "terugbel_webhook_request_duration_seconds_count"
    before = scrape(client, api_token).get((name, (("endpoint", "webhooks.incoming_call"),)), 0.0)
    client.post("/twilio/voice", data={"CallSid": "CA1"})  # refused (no signature), but answered: timed
    client.post("/twilio/voice", data={"CallSid": "CA2"})
    samples = scrape(client, api_token)
    assert value(samples, name, endpoint="webhooks.incoming_call") == before + 2
    bucket = "terugbel_webhook_request_duration_seconds_bucket"
    assert value(samples, bucket, endpoint="webhooks.incoming_call", le="+Inf") == before + 2
    assert value(samples, "terugbel_jobs", queue="dial", status="queued") == 0


def test_webhook_latency_buckets_are_cumulative(runtime: Runtime, client: Any, api_token: Any) -> None:
    from console.prometheus import LatencyTally

    tally = LatencyTally()
    for seconds in (0.01, 0.03, 0.3, 20.0):
        tally.add("tests.latency", seconds)
    tally.write(runtime.redis)
    samples = scrape(client, api_token)
    buckets = {
        labels[1][1]: count
        for (name, labels), count in samples.items()
        if name == "terugbel_webhook_request_duration_seconds_bucket" and labels[0] == ("endpoint", "tests.latency")
    }
    assert buckets == {
        "0.025": 1, "0.05": 2, "0.1": 2, "0.25": 2, "0.5": 3, "1": 3, "2.5": 3, "5": 3, "10": 3, "+Inf": 4,
    }  # fmt: skip
    total = value(samples, "terugbel_webhook_request_duration_seconds_sum", endpoint="tests.latency")
    assert total == pytest.approx(20.34)


def test_share_of_promises_kept_on_time_over_the_last_day(
    db: Any, clock: ManualClock, client: Any, api_token: Any
) -> None:
    seed_numbers_day(db)  # windows of 23 November: one kept, one dialled late, one never dialled; moved, cancelled
    clock.set(datetime(2026, 11, 23, 17, 0, tzinfo=ZoneInfo("Europe/Amsterdam")))
    samples = scrape(client, api_token)
    assert value(samples, "terugbel_promises_due_last_day") == 3
    assert value(samples, "terugbel_promises_kept_on_time_last_day") == 1
    assert value(samples, "terugbel_promises_kept_on_time_ratio") == pytest.approx(1 / 3)
    clock.set(AFTER_THE_WEEK)  # a week later those windows are history: no share at all rather than 0
    samples = scrape(client, api_token)
    assert value(samples, "terugbel_promises_due_last_day") == 0
    assert ("terugbel_promises_kept_on_time_ratio", ()) not in samples


def test_callbacks_due_soon_and_open_promises(
    db: Any, clock: ManualClock, make_queue: Any, client: Any, api_token: Any
) -> None:
    queue = make_queue()
    now = clock.now()
    for number, minutes in (("+31600000001", 10), ("+31600000002", 40), ("+31600000003", 120)):
        add_promise(db, queue_id=queue.id, number=number, window_start=now + timedelta(minutes=minutes), booked_at=now)
    add_promise(db, queue_id=queue.id, number="+31600000004", window_start=now, booked_at=now, state="dialling")
    add_promise(db, queue_id=queue.id, number="+31600000005", window_start=now, booked_at=now, state="cancelled")
    samples = scrape(client, api_token)
    assert by_label(samples, "terugbel_callbacks_due", "within") == {"15m": 1, "60m": 2}
    assert by_label(samples, "terugbel_promises_open", "state") == {"booked": 3, "dialling": 1, "connected": 0}


def test_callers_waiting_and_the_longest_wait_per_queue(
    db: Any, clock: ManualClock, make_queue: Any, client: Any, api_token: Any
) -> None:
    technisch, facturen = make_queue("technisch"), make_queue("facturen")
    now = clock.now()
    with db.session() as session:
        for sid, seconds, state in (
            ("CA1", 90, QueueEntryState.WAITING),
            ("CA2", 30, QueueEntryState.WAITING),
            ("CA3", 3600, QueueEntryState.LEFT),  # waited long, but has gone
            ("CA4", 10, QueueEntryState.RESERVED),  # an agent is being rung: no longer waiting
        ):
            session.add(
                QueueEntry(
                    call_sid=sid, queue_id=technisch.id, state=state.value, enqueued_at=now - timedelta(seconds=seconds)
                )
            )
    samples = scrape(client, api_token)
    assert by_label(samples, "terugbel_callers_waiting", "queue") == {technisch.name: 2, facturen.name: 0}
    assert by_label(samples, "terugbel_callers_longest_wait_seconds", "queue") == {technisch.name: 90, facturen.name: 0}


def test_agents_by_state(make_agent: Any, client: Any, api_token: Any) -> None:
    make_agent("Sanne", "+31611110001", state=AgentState.AVAILABLE.value)
    make_agent("Ahmed", "+31611110002", state=AgentState.AVAILABLE.value)
    make_agent("Bram", "+31611110003", state=AgentState.ON_CALL.value)
    samples = scrape(client, api_token)
    assert by_label(samples, "terugbel_agents", "state") == {
        "available": 2, "reserved": 0, "on_call": 1, "wrap_up": 0, "away": 0,
    }  # fmt: skip


def test_texts_not_sent_and_twilio_errors_are_counted_with_429s_apart(
    runtime: Runtime, simulator: Simulator, clock: ManualClock, client: Any, api_token: Any
) -> None:
    with runtime.db.session() as session:
        limited = queue_sms(session, to="+31612345678", body="Bevestiging", purpose="test", now=clock.now())
        refused = queue_sms(session, to="+31612345679", body="Herinnering", purpose="test", now=clock.now())
        queue_sms(session, to="+31612345670", body="Te laat", purpose="test", now=clock.now() - timedelta(hours=7))
    simulator.faults.rate_limit_next(1)
    assert send_queued_sms(runtime, limited.id) == PENDING
    simulator.faults.fail_next(1, status=400, code=21211)
    assert send_queued_sms(runtime, refused.id) == FAILED
    redispatch_pending(runtime)  # the seven-hour-old text is given up
    samples = scrape(client, api_token)
    assert by_label(samples, "terugbel_sms_errors_total", "reason") == {"retryable": 1, "refused": 1, "given_up": 1}
    assert by_label(samples, "terugbel_twilio_api_errors_total", "status") == {"400": 1}  # the 429 counted apart
    assert value(samples, "terugbel_twilio_rate_limited_total") == 1


@pytest.mark.parametrize(
    ("outcome", "how"),
    [
        ("answered", "human"),
        ("voicemail", "machine_start"),
        ("busy", "busy"),
        ("no_answer", "no-answer"),
        ("failed", "failed"),
    ],
)
def test_each_dial_outcome_is_counted_once(
    db: Any, make_queue: Any, make_agent: Any, runtime: Runtime, clock: ManualClock, client: Any, api_token: Any,
    outcome: str, how: str,
) -> None:  # fmt: skip
    _promise, attempt, _agent = add_attempt_in_flight(
        db, make_queue, make_agent, clock, state=AttemptState.CALLER_RINGING.value, caller_call_sid="CAcaller"
    )
    if outcome in ("answered", "voicemail"):  # the leg was answered; detection says who by
        with db.session() as session:
            session.get(type(attempt), attempt.id).answered_by = how
        caller_answer(runtime, attempt.id, "CAcaller", poll=0)
    else:
        caller_leg_ended(runtime, attempt.id, "CAcaller", how)
    caller_leg_ended(runtime, attempt.id, "CAcaller", "completed")  # the end of an answered leg counts nothing new
    samples = scrape(client, api_token)
    counted = by_label(samples, "terugbel_dial_outcomes_total", "outcome")
    every = ("answered", "voicemail", "no_answer", "busy", "failed")
    assert counted == {name: (1 if name == outcome else 0) for name in every}


def test_the_first_dial_of_a_promise_gives_its_delay_and_lateness(
    db: Any, make_queue: Any, make_agent: Any, runtime: Runtime, simulator: Simulator, clock: ManualClock,
    client: Any, api_token: Any,
) -> None:  # fmt: skip
    make_agent("Sanne", "+31611110001", state=AgentState.AVAILABLE.value)
    queue = make_queue()
    now = clock.now()
    on_time = add_promise(db, queue_id=queue.id, number="+31600000001", window_start=now - timedelta(seconds=90),
                          booked_at=now - timedelta(hours=1))  # fmt: skip
    # Ten minutes into its window: late against its start, still early enough to ring inside it.
    late = add_promise(db, queue_id=queue.id, number="+31600000002", window_start=now - timedelta(minutes=10),
                       booked_at=now - timedelta(hours=1))  # fmt: skip
    start_attempt(runtime, on_time.id, 1)
    start_attempt(runtime, late.id, 1)
    start_attempt(runtime, late.id, 1)  # a job run twice: the second does nothing, and counts nothing
    samples = scrape(client, api_token)
    name = "terugbel_callback_first_dial_delay_seconds"
    assert value(samples, f"{name}_count") == 2
    assert value(samples, f"{name}_sum") == pytest.approx(90 + 600)
    assert value(samples, f"{name}_bucket", le="60") == 0
    assert value(samples, f"{name}_bucket", le="300") == 1
    assert value(samples, f"{name}_bucket", le="1800") == 2
    # Windows are hard edges: a promise is never first dialled after its window (it is given up and
    # the caller told before), so nothing counts as late.
    assert value(samples, "terugbel_callbacks_late_total") == 0
    with db.session() as session:
        assert session.get(type(on_time), on_time.id).state == PromiseState.DIALLING.value


def test_the_grafana_dashboard_charts_every_family_and_only_metrics_the_app_exposes(
    client: Any, api_token: Any
) -> None:
    response = client.get("/metrics", headers=api_token("supervisor"))
    families = list(text_string_to_metric_families(response.get_data(as_text=True)))
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    exposed = {family.name + suffix for family in families for suffix in suffixes[family.type]}
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 36
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\bterugbel_[a-z_]+\b", target["expr"])
    }
    assert queried <= exposed, sorted(queried - exposed)
    uncharted = {
        family.name
        for family in families
        if family.name != "terugbel_metrics_generated_at_seconds"
        and not any(name.startswith(family.name) for name in queried)
    }
    assert uncharted == set()
