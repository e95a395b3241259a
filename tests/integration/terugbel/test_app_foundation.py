"""The app factory: health, the API's token auth and its OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis
from openapi_spec_validator import validate
from sqlalchemy import insert, select, text

from routing.models import Caller
from terugbel.app import create_app
from terugbel.db import Database
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
    body = response.json or {}
    assert body["database"] == "ok"
    assert body["redis"].startswith("unavailable")


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


def test_stored_times_come_back_as_aware_utc(db: Database) -> None:
    # On PostgreSQL the session's zone is named "UTC", so psycopg gives the fixed offset; SQLite's
    # naive values get it from UTCDateTime. Either way every reader sees `datetime.UTC`.
    at = datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    with db.session() as session:
        session.add(Caller(number="+31612345678", created_at=at))
    with db.session() as session:
        stored = session.scalars(select(Caller.created_at)).one()
        assert stored == at and stored.tzinfo is UTC
        if db.engine.dialect.name == "postgresql":
            assert session.scalar(text("SHOW TIME ZONE")) == "UTC"
            assert session.scalar(text("SELECT now()")).tzinfo is UTC


def test_statement_session_commits_each_statement_on_postgresql(db: Database) -> None:
    with db.statement_session() as session:
        session.execute(insert(Caller).values(number="+31612345678", created_at=datetime.now(UTC)))
        # PostgreSQL: committed by the statement itself. SQLite: one transaction, committed at the end
        # (another session would wait for its write lock, so it is not asked).
        if db.engine.dialect.name == "postgresql":
            with db.session() as other:
                assert other.scalars(select(Caller.number)).all() == ["+31612345678"]
    with db.session() as session:
        assert session.scalars(select(Caller.number)).all() == ["+31612345678"]
