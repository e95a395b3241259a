"""The console's Flask blueprint under /console: templates and vendored static files live beside it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
