"""The JSON API mounted on the app: every feature's blueprint, token auth, the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, send_from_directory
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import HTTPException

from console import (
    api_admin,
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
from console.api import DOCS_PATH, authenticate_api_request, blp
from console.auth import csrf

# In name order, as the OpenAPI document lists them.
FEATURE_BLUEPRINTS = (
    api_admin.blp,
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

DOCS_ASSETS_PATH = DOCS_PATH + "/assets/"

# Swagger UI's scripts come from the swagger-ui-bundle package and are served by the app itself,
# so the page works without reaching a CDN.
docs_assets = Blueprint("api_docs_assets", __name__)


@docs_assets.get(DOCS_ASSETS_PATH + "<path:filename>")
def docs_asset(filename: str) -> Response:
    return send_from_directory(str(swagger_ui_path), filename)


class TerugbelApi(Api):
    """flask-smorest's Api, with the headers an HTTP error carries kept on its JSON answer."""

    def handle_http_exception(self, error: HTTPException) -> tuple[Any, int, dict[str, str]]:
        # flask-smorest answers with JSON and drops werkzeug's headers, among them the `Allow`
        # a 405 must carry; its own body's Content-Type is the one to keep.
        payload, status, headers = super().handle_http_exception(error)
        carried = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        return payload, status, {**carried, **(headers or {})}


def init_api(app: Flask) -> Api:
    """Mount the JSON API under /api/: the OpenAPI document at /api/openapi.json, Swagger UI at /api/docs."""
    app.config.update(
        API_TITLE="Terugbel API",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH=DOCS_PATH.removeprefix("/api"),
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS_PATH,
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    api = TerugbelApi(app)
    app.before_request(authenticate_api_request)
    app.register_blueprint(docs_assets)
    # Bearer tokens, never the console's cookie, authenticate the API: no CSRF token to ask for.
    for api_blueprint in (blp, *FEATURE_BLUEPRINTS):
        csrf.exempt(api_blueprint)
        api.register_blueprint(api_blueprint)
    return api
