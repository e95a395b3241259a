"""The JSON API mounted on the app: every feature's blueprint, token auth, the OpenAPI document."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from console import (
    api_board,
    api_callbacks,
    api_callers,
    api_incidents,
    api_intents,
    api_me,
    api_metrics,
    api_queues,
    api_routing,
)
from console.api import authenticate_api_request, blp
from console.auth import csrf

# In name order, as the OpenAPI document lists them.
FEATURE_BLUEPRINTS = (
    api_board.blp,
    api_callbacks.blp,
    api_callers.blp,
    api_incidents.blp,
    api_intents.blp,
    api_me.blp,
    api_metrics.blp,
    api_queues.blp,
    api_routing.blp,
)


def init_api(app: Flask) -> Api:
    """Mount the JSON API under /api/ with its OpenAPI document at /api/openapi.json."""
    app.config.update(
        API_TITLE="Terugbel API",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    api = Api(app)
    app.before_request(authenticate_api_request)
    # Bearer tokens, never the console's cookie, authenticate the API: no CSRF token to ask for.
    for api_blueprint in (blp, *FEATURE_BLUEPRINTS):
        csrf.exempt(api_blueprint)
        api.register_blueprint(api_blueprint)
    return api
