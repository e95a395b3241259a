"""The numbers that matter: a seeded day checked against hand-computed values, CSV, JSON.

/metrics for Prometheus is tested in test_prometheus.py.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.console_support import EXPECTED_DAY, logged_in_client, seed_numbers_day

AFTER_THE_WEEK = datetime(2026, 12, 2, 12, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))


def _cells(page: str, queue_id: str) -> dict[str, str]:
    """The figures of one queue's column, by figure (each cell's id is numbers-<queue>-<figure>)."""
    assert f'<th scope="col" id="numbers-{queue_id}"' in page, f"no column {queue_id}"
    cells = re.findall(rf'<td data-metric="([^"]+)" id="numbers-{queue_id}-[^"]+"[^>]*>(.*?)</td>', page, re.S)
    return {name: re.sub(r"<[^>]+>.*", "", value, flags=re.S).strip() for name, value in cells}


def test_metrics_page_shows_the_hand_computed_numbers_of_a_seeded_day(app: Any, db: Any, clock: Any) -> None:
    seed_numbers_day(db)
    clock.set(AFTER_THE_WEEK)
    client, _ = logged_in_client(app, db, clock.now(), "supervisor")
    page = client.get("/console/metrics?from=2026-11-23&to=2026-11-23").get_data(as_text=True)
    for row_id, expected in EXPECTED_DAY.items():
        assert _cells(page, row_id) == expected, row_id
    assert "<svg" in page
    # One day chosen: the charts over time show the fourteen days up to it, and waits by hour.
    trends = page[page.index('id="trends-heading"') : page.index('id="queues-chart-heading"')]
    kept = trends[: trends.index('id="trend-2"')]
    titles = re.findall(r"<title>([^<]*)</title>", kept)
    assert (
        len(titles) == 14
        and titles[0].startswith("10-11: ")
        and titles[-1] == f"23-11: {_cells(page, 'total')['kept']}"
    )
    assert trends.count("<svg") == 4 and "<title>09: " in trends


def test_metrics_csv_holds_the_same_numbers(app: Any, db: Any, clock: Any) -> None:
    seed_numbers_day(db)
    clock.set(AFTER_THE_WEEK)
    client, _ = logged_in_client(app, db, clock.now(), "supervisor")
    response = client.get("/console/metrics.csv?from=2026-11-23&to=2026-11-23")
    assert response.mimetype == "text/csv"
    rows = {row["queue"]: row for row in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}
    assert rows["*"]["calls"] == "6" and rows["*"]["fcr_rate"] == "0.5000" and rows["*"]["repeat_rate"] == "0.4000"
    assert rows["facturen"]["average_lateness_seconds"] == "150.0000"
    assert rows["technisch"]["moved_by_us"] == "1"
    assert rows[""]["informed_by_incident"] == "1"
    assert rows["*"]["period_start"] == "2026-11-22T23:00:00+00:00"


def test_a_reversed_period_is_refused_on_the_field(app: Any, db: Any, clock: Any) -> None:
    client, _ = logged_in_client(app, db, clock.now(), "supervisor")
    response = client.get("/console/metrics?from=2026-11-23&to=2026-11-20")
    assert response.status_code == 422
    assert 'id="period-to"' in response.get_data(as_text=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert client.get("/console/metrics.csv?from=nope").status_code == 422


@pytest.mark.parametrize("role", ["agent"])
def test_agents_cannot_see_the_numbers(app: Any, db: Any, clock: Any, role: str) -> None:
    client, _ = logged_in_client(app, db, clock.now(), role)
    assert client.get("/console/metrics").status_code == 403
    assert client.get("/console/metrics.csv").status_code == 403


def test_metrics_json_and_csv_need_a_supervisor_token(client: Any, db: Any, clock: Any, api_token: Any) -> None:
    seed_numbers_day(db)
    clock.set(AFTER_THE_WEEK)
    assert client.get("/api/metrics?from=2026-11-23").status_code == 401
    assert client.get("/api/metrics?from=2026-11-23", headers=api_token("agent")).status_code == 403
    response = client.get("/api/metrics?from=2026-11-23", headers=api_token("supervisor"))
    assert response.status_code == 200
    total = response.json["queues"][-1]
    assert total["queue"] == "*" and total["calls"] == 6 and total["kept_rate"] == pytest.approx(1 / 3)
    bad = client.get("/api/metrics?from=2026-11-23&to=2026-11-01", headers=api_token("supervisor"))
    assert bad.status_code == 422 and "to" in bad.json["errors"]["query"]
    csv_text = client.get("/api/metrics.csv?from=2026-11-23", headers=api_token("supervisor")).get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("period_start,period_end,queue,calls")


def test_a_dead_redis_costs_no_webhook_and_loses_no_tally(runtime: Any, redis_conn: Any) -> None:
    import redis

    from console.prometheus import LATENCY_KEY, LatencyRecorder

    # An endpoint of its own: the recorders of this process's apps add real webhooks to the same key.
    endpoint = "tests.dead_redis"
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    recorder = LatencyRecorder(dead, interval_seconds=3600)  # flushed by hand below
    recorder.record(endpoint, 0.01)  # only a dictionary: no Redis on the caller's time
    assert recorder.flush() is False  # Redis is down: the tally waits
    recorder.record(endpoint, 0.02)
    recorder._connection = redis_conn  # Redis is back
    assert recorder.flush() is True
    assert redis_conn.hget(LATENCY_KEY, f"{endpoint}|count") == b"2"
    assert redis_conn.hget(LATENCY_KEY, f"{endpoint}|0.025") == b"2"
