"""Reading Twilio's request parameters: the one place that makes them safe to store."""

from __future__ import annotations

from flask import request


def form_value(name: str) -> str | None:
    """The form parameter `name` without NUL characters (PostgreSQL text cannot hold them).

    The signature check reads the raw form; everything the app keeps goes through here.
    """
    value = request.form.get(name)
    return None if value is None else value.replace("\x00", "")
