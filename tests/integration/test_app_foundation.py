"""The app factory: health, the API's token auth and its OpenAPI document."""

from __future__ import annotations

from typing import Any

import redis
from openapi_spec_validator import validate

from terugbel.app import create_app
from terugbel.runtime import Runtime


def test_healthz_reports_both_dependencies(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_says_503_when_redis_is_gone(runtime: Runtime) -> None:
    dead_redis = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    broken = Runtime(settings=runtime.settings, db=runtime.db, redis=dead_redis, clock=runtime.clock)
    response = create_app(runtime=broken).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "ok"
    assert response.json["redis"].startswith("unavailable")


def test_api_refuses_requests_without_a_valid_token(client: Any) -> None:
    assert client.get("/api/whoami").status_code == 401
    assert client.get("/api/whoami", headers={"Authorization": "Bearer tb_nope"}).status_code == 401
    assert client.get("/api/whoami", headers={"Authorization": "Basic abc"}).status_code == 401


def test_api_token_identifies_its_holder(client: Any, api_token: Any) -> None:
    response = client.get("/api/whoami", headers=api_token("agent"))
    assert response.status_code == 200
    assert response.json == {"name": "test-agent", "role": "agent"}


def test_openapi_document_is_valid_and_requires_bearer_tokens(client: Any) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/api/whoami" in spec["paths"]


def test_tokens_are_stored_hashed(db: Any, api_token: Any) -> None:
    from sqlalchemy import select

    from console.models import ApiToken

    secret = api_token("admin")["Authorization"].removeprefix("Bearer ")
    with db.session() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert secret not in stored
    assert len(stored) == 1 and len(stored[0]) == 64
