"""The Flask app factory: `gunicorn 'terugbel.app:create_app()'`."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import redis
from flask import Flask, jsonify
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from console.api_setup import init_api
from console.auth import csrf
from console.jobs_dashboard import mount_rq_dashboard
from console.texts import init_translations
from console.views import bp as console_bp
from terugbel.clock import Clock
from terugbel.logs import configure_logging_for, get_logger
from terugbel.runtime import Runtime, build_runtime
from terugbel.settings import Settings, load_settings
from terugbel.url_ids import DatabaseIdConverter
from terugbel.wiring import wire
from webhooks.callback_legs import bp as callback_calls_bp
from webhooks.voice import bp as webhooks_bp

if TYPE_CHECKING:
    from telephony.port import Telephony

log = get_logger(__name__)


# Where the webhooks (webhooks/views.py) serve what the domain steers live calls to.
def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    telephony: Telephony | None = None,
    *,
    runtime: Runtime | None = None,
) -> Flask:
    """Build the web app: webhooks, console, JSON API, health."""
    if runtime is None:
        settings = settings or load_settings()
        configure_logging_for(settings)
        runtime = build_runtime(settings, clock=clock, telephony=telephony)
    wire(runtime)
    app = Flask("terugbel")
    # Behind a TLS-terminating proxy the app must see https and the public host, or Twilio
    # signatures (computed over the public URL) would never match.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]
    app.config["SECRET_KEY"] = runtime.settings.secret_key or _persistent_secret(runtime)
    app.extensions["terugbel"] = runtime
    # rq-dashboard's `<int:…>` count from 0 (its Redis instances, pages): mounted with werkzeug's own.
    mount_rq_dashboard(app)
    # Before any other route: every `<int:…>` of the webhooks, the console and the API is an id.
    app.url_map.converters["int"] = DatabaseIdConverter

    # Twilio's requests are authenticated by their signature (webhooks/common.py), not a form token.
    for twilio_facing in (webhooks_bp, callback_calls_bp):
        csrf.exempt(twilio_facing)
        app.register_blueprint(twilio_facing)
    app.register_blueprint(console_bp)
    init_translations(app)
    init_api(app)

    @app.get("/healthz")
    def healthz() -> Any:
        """Report whether the database and Redis answer: 200 when both do, 503 otherwise."""
        checks = {"database": _check(runtime.db.ping), "redis": _check(runtime.redis.ping)}
        healthy = all(value == "ok" for value in checks.values())
        return jsonify(status="ok" if healthy else "unavailable", **checks), 200 if healthy else 503

    return app


def _check(probe: Any) -> str:
    try:
        probe()
    except (SQLAlchemyError, redis.RedisError, OSError) as exc:
        log.warning("health check failed", error=type(exc).__name__)
        return f"unavailable: {type(exc).__name__}"
    return "ok"


def _persistent_secret(runtime: Runtime) -> str:
    """A session-signing key kept in the data dir, so every web process of a laptop install agrees."""
    path = runtime.settings.data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
