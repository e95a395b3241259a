"""The right to erasure, end to end: after it, no table holds the caller's number, name or words."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, String, Text, func, select

from callbacks.models import CallbackPromise
from routing.models import Caller, Incident, IncidentSubscription
from telephony.outbox import send_pending
from telephony.simulator import Reply, Simulator
from terugbel.audit import AuditEntry, record_audit
from terugbel.clock import ManualClock
from terugbel.db import Base
from terugbel.runtime import Runtime

AMS = ZoneInfo("Europe/Amsterdam")
ZOE = "+31687650005"
NAME = "Zoë van Vliet"
WORDS = "mijn modem knippert rood"


def _every_text_value(runtime: Runtime) -> list[tuple[str, str, str]]:
    """(table, column, value) for every string and JSON column of every row in the schema."""
    found = []
    with runtime.db.session() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            for row in session.execute(select(*columns)) if columns else ():
                found += [(table.name, c.name, str(v)) for c, v in zip(columns, row, strict=True) if v is not None]
    return found


def _mentions(values: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    secrets = (ZOE, ZOE[1:], ZOE[3:], "Zoë", "Zo\\u00eb", "van Vliet", WORDS)
    return [(table, column, value) for table, column, value in values if any(s in value for s in secrets)]


def test_erasing_a_caller_leaves_no_trace_and_cancels_their_callback_with_a_last_text(
    sim: Simulator, runtime: Runtime, clock: ManualClock, client: Any, api_token: Any,
    make_queue: Any, make_intent: Any, make_agent: Any, make_caller: Any,
) -> None:  # fmt: skip
    technisch = make_queue("technisch", default_handle_seconds=360, callback_share=0.9)
    make_intent("internet", technisch, key="1", label_nl="internet", nl=["modem knippert", "internet doet het niet"])
    make_agent("Ahmed", "+31611110002", ("technisch",), state="on_call")
    zoe = make_caller(ZOE, NAME, products=["internet"])
    clock.set(datetime(2026, 11, 23, 14, 10, tzinfo=AMS))
    # Her call: the hold queue offers a callback, she takes it and gets the confirmation by text.
    sim.place_inbound_call(ZOE, script=[WORDS, Reply(press="1")], max_seconds=120)
    sim.run_until_idle()
    send_pending(runtime)
    sim.send_inbound_sms(ZOE, body="ok, bel me op 0687650005")  # her own words, with her number in them
    with runtime.db.session() as session:
        incident = Incident(title="storing", message_nl="storing", message_en="outage", match_all=True,
                            started_at=clock.now(), created_by="test")  # fmt: skip
        session.add(incident)
        session.flush()
        session.add(IncidentSubscription(incident_id=incident.id, number=ZOE, language="nl", created_at=clock.now()))
        record_audit(session, at=clock.now(), actor="sanne", action="caller.edited", subject="caller:0",
                     details={"name": NAME})  # fmt: skip
    before = _mentions(_every_text_value(runtime))
    assert {table for table, _, _ in before} >= {"callers", "contacts", "call_sessions", "callback_promises",
                                                 "sms_messages", "incident_subscriptions", "audit_log"}  # fmt: skip

    supervisor = api_token("supervisor")
    assert client.delete(f"/api/callers/{zoe.id}", headers=api_token("agent")).status_code == 403
    erased = client.delete(f"/api/callers/{zoe.id}", headers=supervisor)
    assert erased.status_code == 200, erased.json
    assert erased.json["cancelled_callbacks"] == 1

    # Her last text goes out to her number, and then the outbox forgets it too.
    send_pending(runtime)
    last = [m for m in sim.sent_messages() if m.to == ZOE][-1]
    assert "is geannuleerd" in last.body
    assert _mentions(_every_text_value(runtime)) == []
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Caller)) == 0
        assert session.scalars(select(CallbackPromise.state)).all() == ["cancelled"]
        erasures = session.scalars(select(AuditEntry).where(AuditEntry.action == "caller.erased")).all()
        assert [(e.actor, e.subject, e.details) for e in erasures] == [
            ("test-supervisor", f"caller:{zoe.id}", {"cancelled_callbacks": 1})
        ]
    assert client.delete(f"/api/callers/{zoe.id}", headers=supervisor).status_code == 404


def test_erasing_an_unknown_caller_is_404(client: Any, api_token: Any) -> None:
    response = client.delete("/api/callers/4242", headers=api_token("supervisor"))
    assert response.status_code == 404 and "4242" in response.json["message"]
