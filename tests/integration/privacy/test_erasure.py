"""Erasure's edges: a callback under way refuses it whole; a last text never sent is forgotten too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callbacks.models import PromiseState
from privacy.erasure import erase_caller
from routing.models import Caller
from telephony.models import SmsMessage
from telephony.outbox import ERASURE_NOTICE, GIVE_UP_AFTER, outbound_sms, redispatch_pending
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work
from terugbel.validation import ChangeRefused
from tests.integration.dispatch_support import add_promise

NUMBER = "+31687650006"


def test_a_callback_under_way_refuses_the_erasure_and_changes_nothing(
    runtime: Runtime, clock: ManualClock, make_queue: Any, make_caller: Any, client: Any, api_token: Any
) -> None:
    queue = make_queue("technisch")
    caller = make_caller(NUMBER, "Bram")
    add_promise(runtime.db, queue_id=queue.id, number=NUMBER, window_start=clock.now(), booked_at=clock.now(),
                problem="geen internet", state=PromiseState.DIALLING.value)  # fmt: skip
    with pytest.raises(ChangeRefused), unit_of_work(runtime) as session:
        erase_caller(session, caller.id, actor="test", now=clock.now())
    response = client.delete(f"/api/callers/{caller.id}", headers=api_token("supervisor"))
    assert response.status_code == 409 and "under way" in response.json["message"]
    with runtime.db.session() as session:
        assert session.scalars(select(Caller.name)).all() == ["Bram"]


def test_a_last_text_given_up_unsent_is_forgotten_too(runtime: Runtime, clock: ManualClock) -> None:
    with runtime.db.session() as session:
        old = clock.now() - GIVE_UP_AFTER - timedelta(minutes=1)
        session.add(outbound_sms(to=NUMBER, body="Geannuleerd.", purpose=ERASURE_NOTICE, now=old))
        session.add(outbound_sms(to=NUMBER, body="Herinnering", purpose="reminder", now=old))
    redispatch_pending(runtime)
    with runtime.db.session() as session:
        rows = sorted((m.purpose, m.status, m.number, m.body) for m in session.scalars(select(SmsMessage)))
    assert rows == [(ERASURE_NOTICE, "failed", "", ""), ("reminder", "failed", NUMBER, "Herinnering")]
