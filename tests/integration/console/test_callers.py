"""The console's callers: search, the caller's page and edit form, and erasure after a confirmation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from callbacks.models import PromiseState
from routing.models import Caller, Contact
from terugbel.audit import AuditEntry
from tests.integration.console_support import logged_in_client
from tests.integration.dispatch_support import add_promise
from tests.integration.routing.fixtures import add_contact

NUMBER = "+31612345678"


def test_a_supervisor_finds_a_caller_and_corrects_them(app: Any, db: Any, clock: Any, make_caller: Any) -> None:
    pieter = make_caller(NUMBER, "Pieter Bakker")
    add_contact(db, pieter, started_at=clock.now() - timedelta(days=3), resolved=False)
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    found = client.get("/console/callers", query_string={"q": "06 1234 5678"}).get_data(as_text=True)
    assert f'id="caller-{pieter.id}"' in found and "+31 6 12345678" in found
    assert "Nobody found." in client.get("/console/callers", query_string={"q": "Zoë"}).get_data(as_text=True)
    page = client.get(f"/console/callers/{pieter.id}").get_data(as_text=True)
    assert "Pieter Bakker" in page and "follow-up needed" in page and "reached an agent" in page
    too_long = client.post(f"/console/callers/{pieter.id}", data={"csrf_token": token, "name": "x" * 121})
    assert too_long.status_code == 422
    assert 'id="caller-name-error">At most 120 characters' in too_long.get_data(as_text=True)
    saved = client.post(
        f"/console/callers/{pieter.id}", data={"csrf_token": token, "name": "Piet", "language": "en", "vip": "1"}
    )
    assert saved.status_code == 302
    with db.session() as session:
        caller = session.get(Caller, pieter.id)
        assert (caller.name, caller.language, caller.vip) == ("Piet", "en", True)
        [entry] = session.scalars(select(AuditEntry)).all()
        assert entry.details == {"changed": ["language", "name", "vip"], "language": "en", "vip": True}
    assert client.get("/console/callers/999999").status_code == 404


def test_erasing_needs_the_confirmation_and_then_shows_what_was_erased(
    app: Any, db: Any, clock: Any, make_caller: Any
) -> None:
    pieter = make_caller(NUMBER, "Pieter Bakker")
    add_contact(db, pieter, started_at=clock.now() - timedelta(days=1))
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    confirm = client.get(f"/console/callers/{pieter.id}/erase")
    assert confirm.status_code == 200 and 'id="erase-confirm"' in confirm.get_data(as_text=True)
    unconfirmed = client.post(f"/console/callers/{pieter.id}/erase", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.get_data(as_text=True)
    with db.session() as session:
        assert session.get(Caller, pieter.id) is not None
    done = client.post(f"/console/callers/{pieter.id}/erase", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 200
    page = done.get_data(as_text=True)
    assert "The caller is erased." in page and "Contacts kept without name, number or words: 1" in page
    assert "Pieter" not in page and "12345678" not in page
    with db.session() as session:
        assert session.get(Caller, pieter.id) is None
        assert session.scalars(select(Contact.caller_id)).all() == [None]
    assert client.get(f"/console/callers/{pieter.id}").status_code == 404


def test_a_callback_under_way_is_told_and_erases_nothing(
    app: Any, db: Any, clock: Any, make_caller: Any, make_queue: Any
) -> None:
    queue = make_queue("technisch")
    pieter = make_caller(NUMBER, "Pieter Bakker")
    add_promise(db, queue_id=queue.id, number=NUMBER, window_start=clock.now(), booked_at=clock.now(),
                state=PromiseState.DIALLING.value)  # fmt: skip
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    refused = client.post(f"/console/callers/{pieter.id}/erase", data={"csrf_token": token, "confirm": "yes"})
    assert refused.status_code == 409
    assert "A callback to this caller is under way" in refused.get_data(as_text=True)
    with db.session() as session:
        assert session.get(Caller, pieter.id) is not None


def test_agents_may_not_open_or_erase_callers(app: Any, db: Any, clock: Any, make_caller: Any) -> None:
    pieter = make_caller(NUMBER, "Pieter Bakker")
    client, token = logged_in_client(app, db, clock.now(), "agent")
    assert client.get("/console/callers").status_code == 403
    assert client.get(f"/console/callers/{pieter.id}").status_code == 403
    erase = client.post(f"/console/callers/{pieter.id}/erase", data={"csrf_token": token, "confirm": "yes"})
    assert erase.status_code == 403
    with db.session() as session:
        assert session.get(Caller, pieter.id) is not None
