"""Every change that alters callback capacity re-plans, end to end: one test per cause.

Three callers booked 09:00–09:15 tomorrow; a supervisor's change (through the console, the API or
the service) leaves fewer places or none there. The latest booked moves to the nearest slot with
room, the caller's text (delivered by the simulated network) names the new window, the old slot is
offered no more, and the board lists the promise as moved by us, saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callbacks.booking import book_callback
from callbacks.models import CallbackPromise, CallbackSlot
from callbacks.offers import offer_slots
from callbacks.replanning import ReplanCause, replan_for_agent
from console.queries import supervisor_board
from routing.models import Agent, AgentState, Shift
from telephony.outbox import send_pending
from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime
from terugbel.unit_of_work import unit_of_work
from tests.integration.console_support import logged_in_client

AMS = ZoneInfo("Europe/Amsterdam")
CALLERS = ("+31612345600", "+31612345601", "+31612345602")
LATEST = CALLERS[-1]


def local(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, d, hh, mm, tzinfo=AMS).astimezone(UTC)


@pytest.fixture
def facturen(make_queue: Callable[..., Any], make_agent: Callable[..., Any]) -> Any:
    """Open 08:00–17:00; four agents on the 24th and 25th: 4 × 15 min × 30 % ÷ 5 min = 3 places a slot."""
    queue = make_queue("facturen", hours=(8, 17), default_handle_seconds=300)
    for i in range(4):
        make_agent(
            f"Agent {i}", f"+3161111000{i}", ("facturen",), shifts=[(local(d, 8), local(d, 17)) for d in (24, 25)]
        )
    return queue


@pytest.fixture
def booked(sim: Simulator, runtime: Runtime, clock: ManualClock, facturen: Any) -> list[int]:
    """Three promises for 09:00–09:15 tomorrow, booked a minute apart (the last is the latest)."""
    clock.set(local(23, 16))
    ids = []
    for number in CALLERS:
        clock.advance(minutes=1)
        with unit_of_work(runtime) as session:
            promise = book_callback(
                session, queue_id=facturen.id, number=number, language="nl", timezone="Europe/Amsterdam",
                now=clock.now(), near=local(24, 9),
            )  # fmt: skip
            assert (promise.window_start, promise.window_end) == (local(24, 9), local(24, 9, 15))
            ids.append(promise.id)
    send_pending(runtime)
    return ids


def texts_to(sim: Simulator, number: str) -> list[str]:
    return [m.body for m in sim.sent_messages() if m.to == number]


def assert_latest_moved(
    sim: Simulator, runtime: Runtime, queue: Any, booked: list[int], window: tuple[datetime, datetime], cause: str
) -> None:
    """The latest-booked promise moved to `window`, was texted so, shows on the board; 09:00 is not offered."""
    send_pending(runtime)
    now = runtime.clock.now()
    with runtime.db.session() as session:
        old = session.get(CallbackPromise, booked[-1])
        assert old is not None and old.state == "moved" and old.moved_to_id is not None
        new = session.get(CallbackPromise, old.moved_to_id)
        assert new is not None and new.number == LATEST and new.moved_by_us and new.state == "booked"
        assert (new.window_start, new.window_end) == window
        assert old.transitions[-1].cause == cause and new.reason == cause
        offers = offer_slots(session, queue_id=queue.id, now=now, zone="Europe/Amsterdam", near=local(24, 9), count=8)
        board = supervisor_board(session, now)
    # The old window is offered no more: its slot is full, or dead, or now another window.
    assert (local(24, 9), local(24, 9, 15)) not in {(o.window_start, o.window_end) for o in offers}
    fmt = "%H:%M"
    start, end = (moment.astimezone(AMS).strftime(fmt) for moment in window)
    day = "morgen" if window[0].astimezone(AMS).day == 24 else "woensdag 25 november"
    [text] = [body for body in texts_to(sim, LATEST) if "wijziging in onze planning" in body]
    assert "niet morgen tussen 09:00 en 09:15" in text and f"maar {day} tussen {start} en {end}" in text
    [line] = [line for line in board.moved_by_us if line.promise_id == new.id]
    assert line.moved_by_us and line.reason == cause


def save_settings(app: Any, runtime: Runtime, queue: Any, *, slot_minutes: str, callback_share: str) -> None:
    """The queue's settings form in the console, as a supervisor saves it (the share in percent)."""
    client, token = logged_in_client(app, runtime.db, runtime.clock.now(), "supervisor")
    form = {
        "csrf_token": token, "label": "Facturen", "timezone": "Europe/Amsterdam", "wait_threshold_seconds": "120",
        "slot_minutes": slot_minutes, "callback_share": callback_share,
    }  # fmt: skip
    assert client.post(f"/console/queues/{queue.id}/settings", data=form).status_code == 302


def test_callback_share_lowered_moves_the_latest_booked(
    sim: Simulator, runtime: Runtime, app: Any, facturen: Any, booked: list[int]
) -> None:
    """30 % → 10 %: one place a slot; the latest booked moves first, to 09:15, the next to 09:30."""
    save_settings(app, runtime, facturen, slot_minutes="15", callback_share="10")
    assert_latest_moved(sim, runtime, facturen, booked, (local(24, 9, 15), local(24, 9, 30)), "callback share changed")
    with runtime.db.session() as session:
        second = session.get(CallbackPromise, session.get(CallbackPromise, booked[1]).moved_to_id)
        assert second.window_start == local(24, 9, 30)
        assert session.get(CallbackPromise, booked[0]).state == "booked"  # the first booked keeps its window


def test_opening_hours_cut_moves_every_promise_of_the_closed_hour(
    sim: Simulator, runtime: Runtime, app: Any, facturen: Any, booked: list[int]
) -> None:
    """Tuesday opens at 10:00 now: 09:00 is no slot; the latest booked moves first, to 10:00."""
    client, token = logged_in_client(app, runtime.db, runtime.clock.now(), "supervisor")
    hours = {f"opens-{d}": "08:00" for d in range(7)} | {f"closes-{d}": "17:00" for d in range(7)}
    hours["opens-1"] = "10:00"
    assert client.post(f"/console/queues/{facturen.id}/hours", data={"csrf_token": token, **hours}).status_code == 302
    assert_latest_moved(sim, runtime, facturen, booked, (local(24, 10), local(24, 10, 15)), "opening hours changed")
    with runtime.db.session() as session:
        dead = session.scalars(select(CallbackSlot).where(CallbackSlot.starts_at == local(24, 9))).one()
        assert (dead.capacity, dead.booked) == (0, 0)
        assert all(session.get(CallbackPromise, i).state == "moved" for i in booked)


def test_closed_day_added_through_the_api_moves_to_the_next_open_day(
    sim: Simulator,
    runtime: Runtime,
    client: Any,
    api_token: Callable[..., dict[str, str]],
    facturen: Any,
    booked: list[int],
) -> None:
    headers = api_token("supervisor")
    answer = client.post(
        f"/api/queues/{facturen.id}/closed-days", json={"day": "2026-11-24", "name": "Storing"}, headers=headers
    )
    assert answer.status_code == 201 and answer.get_json()["day"] == "2026-11-24"
    assert_latest_moved(sim, runtime, facturen, booked, (local(25, 8), local(25, 8, 15)), "closed day added")
    again = client.post(
        f"/api/queues/{facturen.id}/closed-days", json={"day": "2026-11-24", "name": "Storing"}, headers=headers
    )
    assert again.status_code == 422 and "day" in again.get_json()["errors"]["json"]
    assert (
        client.post("/api/queues/999/closed-days", json={"day": "2026-11-24", "name": "x"}, headers=headers).status_code
        == 404
    )
    # Opened again: its slots are offered again.
    assert client.delete(f"/api/closed-days/{answer.get_json()['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/closed-days/{answer.get_json()['id']}", headers=headers).status_code == 404
    with runtime.db.session() as session:
        offers = offer_slots(
            session, queue_id=facturen.id, now=runtime.clock.now(), zone="Europe/Amsterdam", near=local(24, 9, 15)
        )
    assert offers[0].window_start == local(24, 9, 15)


def test_slot_length_changed_moves_into_the_new_window(
    sim: Simulator, runtime: Runtime, app: Any, facturen: Any, booked: list[int]
) -> None:
    """15 → 30 minutes: 09:00–09:15 is no window any more; 09:00–09:30 is, with room for all three."""
    save_settings(app, runtime, facturen, slot_minutes="30", callback_share="30")
    assert_latest_moved(sim, runtime, facturen, booked, (local(24, 9), local(24, 9, 30)), "slot length changed")
    with runtime.db.session() as session:
        windows = {
            (s.starts_at, s.ends_at, s.capacity)
            for s in session.scalars(select(CallbackSlot).where(CallbackSlot.starts_at < local(24, 10)))
        }
    # 4 agents × 30 min × 30 % ÷ 5 min = 7 places; the old 09:15–09:30 slot is dead.
    assert windows >= {(local(24, 9), local(24, 9, 30), 7), (local(24, 9, 15), local(24, 9, 30), 0)}


def test_shift_removed_moves_the_latest_booked(
    sim: Simulator, runtime: Runtime, app: Any, facturen: Any, booked: list[int]
) -> None:
    client, token = logged_in_client(app, runtime.db, runtime.clock.now(), "supervisor")
    with runtime.db.session() as session:
        shift_id = session.scalars(select(Shift.id).where(Shift.starts_at == local(24, 8)).order_by(Shift.id)).first()
    assert client.post(f"/console/shifts/{shift_id}/delete", data={"csrf_token": token}).status_code == 302
    assert_latest_moved(sim, runtime, facturen, booked, (local(24, 9, 15), local(24, 9, 30)), "shift removed")


def test_slot_override_lowered_moves_the_latest_booked(
    sim: Simulator, runtime: Runtime, app: Any, facturen: Any, booked: list[int]
) -> None:
    client, token = logged_in_client(app, runtime.db, runtime.clock.now(), "supervisor")
    with runtime.db.session() as session:
        slot_id = session.scalars(select(CallbackSlot.id).where(CallbackSlot.starts_at == local(24, 9))).one()
    answer = client.post(f"/console/slots/{slot_id}/capacity", data={"csrf_token": token, "override": "2"})
    assert answer.status_code == 302
    assert_latest_moved(sim, runtime, facturen, booked, (local(24, 9, 15), local(24, 9, 30)), "slot capacity changed")


def test_agent_deactivated_moves_the_latest_booked(
    sim: Simulator, runtime: Runtime, facturen: Any, booked: list[int]
) -> None:
    with unit_of_work(runtime) as session:
        agent = session.scalars(select(Agent).order_by(Agent.id)).first()
        agent.active, agent.state = False, AgentState.AWAY.value
        session.flush()
        replan_for_agent(session, agent.id, now=runtime.clock.now(), cause=ReplanCause.AGENT_DEACTIVATED)
    assert_latest_moved(sim, runtime, facturen, booked, (local(24, 9, 15), local(24, 9, 30)), "agent deactivated")
