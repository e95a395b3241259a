"""The capacity week grid: slots × days in one form, saved at once, all or nothing, each change audited."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callbacks.models import CallbackSlot
from terugbel.audit import AuditEntry
from tests.integration.console_support import logged_in_client

AMS = ZoneInfo("Europe/Amsterdam")


def _week(client: Any, queue_id: int, first: str) -> str:
    response = client.get(f"/console/queues/{queue_id}/capacity?from={first}")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def _cell_fields(page: str) -> dict[int, str]:
    return {int(slot): value for slot, value in re.findall(r'name="cap-(\d+)" value="([^"]*)"', page)}


def test_the_week_grid_shows_booked_and_capacity_and_saves_only_changed_cells(
    app: Any, db: Any, clock: Any, make_queue: Any, make_agent: Any
) -> None:
    queue = make_queue("facturen", hours=(9, 11))
    tomorrow = clock.now().astimezone(AMS).replace(hour=9, minute=0) + timedelta(days=1)
    for i in range(4):
        make_agent(f"Agent {i}", f"+3161111000{i}", ("facturen",), shifts=[(tomorrow, tomorrow + timedelta(hours=2))])
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    first = tomorrow.date().isoformat()

    page = _week(client, queue.id, first)
    assert page.count("<form") - page.count('class="inline"') == 1  # one form for the whole week
    assert page.count('id="capacity-save"') == 1
    fields = _cell_fields(page)
    # 09:00-11:00 on seven days in 15-minute slots; staffed tomorrow only (3 places a slot).
    assert len(fields) == 7 * 8 and set(fields.values()) == {""}
    assert page.count(">0/3<") == 8 and "09:00–09:15" in page and "10:45–11:00" in page
    with db.session() as session:
        slots = session.scalars(select(CallbackSlot).order_by(CallbackSlot.starts_at)).all()
        first_slot, second_slot = slots[0].id, slots[1].id

    form = {"csrf_token": token, "from": first} | {f"cap-{slot}": value for slot, value in fields.items()}
    saved = client.post(
        f"/console/queues/{queue.id}/capacity", data=form | {f"cap-{first_slot}": "5", f"cap-{second_slot}": "1"}
    )
    assert saved.status_code == 302 and f"from={first}" in saved.headers["Location"]
    with db.session() as session:
        assert [
            (s.capacity, s.capacity_override)
            for s in session.scalars(select(CallbackSlot).order_by(CallbackSlot.starts_at)).all()[:3]
        ] == [
            (5, 5),
            (1, 1),
            (3, None),
        ]
        audited = session.scalars(select(AuditEntry.subject).where(AuditEntry.action == "slot.capacity")).all()
        assert sorted(audited) == sorted([f"slot {first_slot}", f"slot {second_slot}"])
    page = _week(client, queue.id, first)
    assert ">0/5<" in page and "Saved 2 slots." in page
    assert _cell_fields(page)[first_slot] == "5"


def test_one_bad_cell_saves_nothing_and_is_marked(app: Any, db: Any, clock: Any, make_queue: Any) -> None:
    queue = make_queue("facturen", hours=(9, 10))
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    first = (clock.now().astimezone(AMS) + timedelta(days=1)).date().isoformat()
    fields = _cell_fields(_week(client, queue.id, first))
    good, bad = sorted(fields)[:2]
    form = {"csrf_token": token, "from": first} | {f"cap-{slot}": "" for slot in fields}
    refused = client.post(
        f"/console/queues/{queue.id}/capacity", data=form | {f"cap-{good}": "4", f"cap-{bad}": "veel"}
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert f'id="cap-{bad}-error">a whole number from 0 to 1000, or empty<' in page
    assert _cell_fields(page)[bad] == "veel" and _cell_fields(page)[good] == "4"  # what was typed stays
    with db.session() as session:
        assert session.get(CallbackSlot, good).capacity_override is None
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "slot.capacity")).all() == []


def test_slots_of_another_queue_are_not_editable_through_this_grid(
    app: Any, db: Any, clock: Any, make_queue: Any
) -> None:
    facturen = make_queue("facturen", hours=(9, 10))
    technisch = make_queue("technisch", hours=(9, 10))
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    first = (clock.now().astimezone(AMS) + timedelta(days=1)).date().isoformat()
    other = sorted(_cell_fields(_week(client, technisch.id, first)))[0]
    _week(client, facturen.id, first)
    posted = client.post(
        f"/console/queues/{facturen.id}/capacity", data={"csrf_token": token, "from": first, f"cap-{other}": "9"}
    )
    assert posted.status_code == 302
    with db.session() as session:
        assert session.get(CallbackSlot, other).capacity_override is None
