"""/api/me/*: an agent's token shows that agent's callbacks and contacts, and nobody else's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from callbacks.booking import book_callback
from routing.models import Agent, Contact
from terugbel.cli import main
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work


@pytest.fixture
def desk(runtime: Runtime, make_queue: Any, make_agent: Any, make_caller: Any, clock: Any) -> dict[str, Any]:
    queue = make_queue("technisch", default_handle_seconds=120)
    ahmed = make_agent("Ahmed", "+31611110002", ("technisch",))
    eva = make_agent("Eva", "+31611110004", ("facturen",))
    jan = make_caller("+31687654321", "Jan <script>Smit</script>")
    with unit_of_work(runtime) as session:
        promise = book_callback(
            session, queue_id=queue.id, number=jan.number, language="nl", timezone="Europe/Amsterdam",
            now=clock.now(), caller_id=jan.id, problem="mijn modem knippert rood", notify=False,
        )  # fmt: skip
    with runtime.db.session() as session:
        handled = Contact(
            caller_id=jan.id, channel="call", agent_id=ahmed.id, queue_id=queue.id, outcome="agent",
            started_at=clock.now() - timedelta(hours=1), ended_at=clock.now() - timedelta(minutes=50),
        )  # fmt: skip
        session.add(handled)
    return {"ahmed": ahmed, "eva": eva, "promise": promise, "contact": handled}


def test_an_agent_token_shows_my_next_callbacks_with_history(client: Any, api_token: Any, desk: Any) -> None:
    answer = client.get("/api/me/desk", headers=api_token("agent", agent_id=desk["ahmed"].id))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["agent_name"] == "Ahmed"
    [callback] = body["callbacks"]
    assert callback["promise_id"] == desk["promise"].id
    assert callback["problem"] == "mijn modem knippert rood"
    assert callback["caller_name"] == "Jan <script>Smit</script>"  # JSON carries it as data, never markup
    assert [p["contact_id"] for p in body["pending_outcomes"]] == [desk["contact"].id]


def test_another_agents_token_sees_none_of_it(client: Any, api_token: Any, desk: Any) -> None:
    headers = api_token("agent", agent_id=desk["eva"].id)
    body = client.get("/api/me/desk", headers=headers).json
    assert body["callbacks"] == [] and body["pending_outcomes"] == []
    refused = client.post(f"/api/me/contacts/{desk['contact'].id}/outcome", json={"resolved": True}, headers=headers)
    assert refused.status_code == 404


def test_a_token_that_acts_for_no_agent_is_told_so(client: Any, api_token: Any, desk: Any) -> None:
    answer = client.get("/api/me/desk", headers=api_token("agent"))
    assert answer.status_code == 403
    assert "--agent-id" in answer.json["message"]


def test_recording_my_outcome(client: Any, api_token: Any, desk: Any, runtime: Runtime) -> None:
    headers = api_token("agent", agent_id=desk["ahmed"].id)
    url = f"/api/me/contacts/{desk['contact'].id}/outcome"
    bad = client.post(url, json={"resolved": "maybe", "note": "x" * 1001}, headers=headers)
    assert bad.status_code == 422
    assert set(bad.json["errors"]["json"]) == {"resolved", "note"}
    done = client.post(url, json={"resolved": False, "note": "modem wordt vervangen"}, headers=headers)
    assert done.status_code == 200 and done.json == {"contact_id": desk["contact"].id, "resolved": False}
    with runtime.db.session() as session:
        contact = session.get(Contact, desk["contact"].id)
        assert contact.resolved is False and contact.outcome_note == "modem wordt vervangen"


def test_token_create_for_an_agent_on_the_command_line(runtime: Runtime, desk: Any, client: Any) -> None:
    env = {"TERUGBEL_DATA_DIR": str(runtime.settings.data_dir), "DATABASE_URL": runtime.settings.database_url}
    if runtime.settings.redis_url:
        env["REDIS_URL"] = runtime.settings.redis_url
    args = ["token", "create", "--role", "agent", "--name", "ahmed-phone", "--agent-id", str(desk["ahmed"].id)]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert client.get("/api/me/desk", headers={"Authorization": f"Bearer {secret}"}).json["agent_name"] == "Ahmed"
    unknown = CliRunner().invoke(main, [*args[:-1], "999"], env=env)
    assert unknown.exit_code != 0 and "agent 999 does not exist" in unknown.output


def test_setting_myself_available_after_wrap_up(client: Any, api_token: Any, desk: Any, runtime: Runtime) -> None:
    ahmed = desk["ahmed"].id
    headers = api_token("agent", agent_id=ahmed)
    with runtime.db.session() as session:
        session.get(Agent, ahmed).state = "wrap_up"
    assert client.put("/api/me/state", json={"state": "on_call"}, headers=headers).status_code == 422
    done = client.put("/api/me/state", json={"state": "available"}, headers=headers)
    assert done.status_code == 200, done.json
    assert done.json == {"state": "available", "offered_queue_entry_id": None}  # nobody is waiting
    with runtime.db.session() as session:
        assert session.get(Agent, ahmed).state == "available"
        session.get(Agent, ahmed).state = "on_call"
    busy = client.put("/api/me/state", json={"state": "away"}, headers=headers)
    assert busy.status_code == 409 and "on a call" in busy.json["message"]
    assert client.put("/api/me/state", json={"state": "away"}, headers=api_token("agent")).status_code == 403
