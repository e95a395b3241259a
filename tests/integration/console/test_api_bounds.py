"""The API's edges: ids the database cannot hold, 405 with `Allow`, the interactive page, the document."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.routing import IntegerConverter, Rule

from terugbel.validation import ID_MAX

# Just beyond PostgreSQL's integer column, and beyond 64 bits (SQLite's integer, and C's long).
UNHOLDABLE_IDS = (ID_MAX + 1, 2**64)
NO_METHOD = {"HEAD", "OPTIONS"}


def _id_rules(app: Any) -> list[Rule]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if any(isinstance(converter, IntegerConverter) for converter in rule._converters.values())
    ]


def _url(rule: Rule, id_value: int) -> str:
    """The rule's URL with every integer variable set to `id_value` and every other one to 1."""

    def fill(match: re.Match[str]) -> str:
        return str(id_value) if match.group("converter") == "int" else "1"

    return re.sub(r"<(?:(?P<converter>[^:<>(]+)(?:\([^)]*\))?:)?[^<>]+>", fill, rule.rule)


def test_every_route_that_takes_an_id_answers_404_to_one_no_column_holds(
    app: Any, api_token: Callable[[str], dict[str, str]]
) -> None:
    client = app.test_client()
    headers = api_token("admin")
    rules = _id_rules(app)
    # The API, the console and the webhooks all take ids; a new route is in this list by itself.
    assert {rule.rule.split("/")[1] for rule in rules} >= {"api", "console", "twilio"}
    for rule in rules:
        for id_value in UNHOLDABLE_IDS:
            url = _url(rule, id_value)
            for method in sorted((rule.methods or set()) - NO_METHOD):
                response = client.open(url, method=method, headers=headers, json={})
                assert response.status_code == 404, (method, url, response.status_code)


def test_ids_in_bodies_and_queries_are_bounded_too(
    client: Any, api_token: Callable[[str], dict[str, str]], make_queue: Callable[..., Any]
) -> None:
    make_queue("technisch")
    headers = api_token("supervisor")
    for id_value in UNHOLDABLE_IDS:
        booking = {"number": "+31612345678", "queue": "technisch", "slot_id": id_value}
        refused = client.post("/api/callbacks", json=booking, headers=headers)
        assert refused.status_code == 422 and "slot_id" in refused.json["errors"]["json"], refused.json
        rollback = client.post("/api/routing/rules/rollback", json={"version": id_value}, headers=headers)
        assert rollback.status_code == 422 and "version" in rollback.json["errors"]["json"], rollback.json
        by_queue_id = client.get(f"/api/callbacks?queue={id_value}", headers=headers)
        assert by_queue_id.status_code == 422 and "queue" in by_queue_id.json["errors"]["json"], by_queue_id.json


def test_an_empty_queue_filter_is_no_filter_as_the_document_allows(
    client: Any, api_token: Callable[[str], dict[str, str]]
) -> None:
    response = client.get("/api/callbacks?queue=", headers=api_token("agent"))
    assert response.status_code == 200 and response.json == []


def test_the_document_says_the_bounds_of_ids(client: Any) -> None:
    document = client.get("/api/openapi.json").json
    cancel = document["paths"]["/api/callbacks/{promise_id}/cancel"]
    [parameter] = [p for p in cancel.get("parameters", []) + cancel["post"].get("parameters", []) if p["in"] == "path"]
    assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": ID_MAX}
    booking = document["components"]["schemas"]["Booking"]["properties"]["slot_id"]
    assert (booking["minimum"], booking["maximum"]) == (1, ID_MAX)


@pytest.mark.parametrize(
    ("path", "method"),
    [("/api/whoami", "DELETE"), ("/api/callbacks", "PUT"), ("/api/intents/1", "POST"), ("/console/", "DELETE")],
)
def test_405_says_which_methods_are_allowed(
    app: Any, api_token: Callable[[str], dict[str, str]], path: str, method: str
) -> None:
    response = app.test_client().open(path, method=method, headers=api_token("supervisor"))
    assert response.status_code == 405
    expected = set(app.url_map.bind("localhost").allowed_methods(path))
    assert expected - NO_METHOD, path
    assert {m.strip() for m in response.headers["Allow"].split(",")} == expected


def test_the_interactive_api_page_and_its_scripts_are_served_without_a_token(client: Any) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html
    assets = re.findall(r'(?:src|href)="(/api/docs/assets/[^"]+)"', html)
    assert {asset.rsplit("/", 1)[1] for asset in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        with client.get(asset) as response:
            assert response.status_code == 200 and len(response.data) > 1000, asset
