"""rq-dashboard under /console/jobs/rq: admins only, on the app's own Redis, its POSTs CSRF-checked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rq import Queue

from tests.integration.console_support import logged_in_client

DASHBOARD = "/console/jobs/rq/"


def test_anonymous_visitors_are_sent_to_the_console_login(client: Any) -> None:
    for path in (DASHBOARD, "/console/jobs/rq/0/data/queues.json", "/console/jobs/rq/static/css/main.css"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/console/login?next=/console/jobs/rq/")


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_below_admin_is_refused(app: Any, db: Any, clock: Any, role: str) -> None:
    client, _ = logged_in_client(app, db, clock.now(), role)
    assert client.get(DASHBOARD).status_code == 403
    assert client.get("/console/jobs/rq/0/data/queues.json").status_code == 403


def test_admin_sees_the_apps_queues_and_jobs(app: Any, db: Any, clock: Any, redis_conn: Any) -> None:
    Queue("dial", connection=redis_conn).enqueue_at(
        clock.now() + timedelta(hours=1), "builtins.print", job_id="promise-7-attempt-1"
    )
    admin, _ = logged_in_client(app, db, clock.now(), "admin")
    assert admin.get(DASHBOARD).status_code == 200
    queues = admin.get("/console/jobs/rq/0/data/queues.json").json["queues"]
    assert {queue["name"]: queue["scheduled_job_registry_count"] for queue in queues}["dial"] == 1
    scheduled = admin.get("/console/jobs/rq/0/data/jobs/dial/scheduled/8/asc/1.json").json["jobs"]
    assert [job["id"] for job in scheduled] == ["promise-7-attempt-1"]


def test_the_navigation_leads_admins_to_it(app: Any, db: Any, clock: Any) -> None:
    admin, _ = logged_in_client(app, db, clock.now(), "admin")
    assert f'href="{DASHBOARD}"' in admin.get("/console/admin/access").get_data(as_text=True)
    supervisor, _ = logged_in_client(app, db, clock.now(), "supervisor")
    assert DASHBOARD not in supervisor.get("/console/board").get_data(as_text=True)


def test_its_actions_need_the_csrf_token_its_scripts_send(app: Any, db: Any, clock: Any, redis_conn: Any) -> None:
    job = Queue("sms", connection=redis_conn).enqueue("builtins.print", job_id="sms-1")
    admin, _ = logged_in_client(app, db, clock.now(), "admin")
    admin.get(DASHBOARD)
    cookie = admin.get_cookie("_csrf_token", path="/console/jobs/rq")
    assert cookie is not None and not cookie.http_only
    assert admin.post(f"/console/jobs/rq/job/{job.id}/delete").status_code == 400
    assert Queue("sms", connection=redis_conn).count == 1
    deleted = admin.post(f"/console/jobs/rq/job/{job.id}/delete", headers={"X-CSRFToken": cookie.value})
    assert deleted.status_code == 200
    assert Queue("sms", connection=redis_conn).count == 0


def test_requeueing_every_failed_job_takes_a_post(app: Any, db: Any, clock: Any) -> None:
    admin, _ = logged_in_client(app, db, clock.now(), "admin")
    assert admin.get("/console/jobs/rq/requeue/dial").status_code == 405
