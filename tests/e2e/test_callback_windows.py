"""Windows are hard edges, and callers are told early: every attempt and text inside the window.

Through the simulator against the live app, on real Redis, driven by one ManualClock.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from callbacks.attempts import DEFAULT_POLICY
from callbacks.forecast import FORECAST_CAUSE
from callbacks.models import CallbackPromise
from routing.models import Agent, AgentState
from tests.e2e.callback_driver import CallbackWorld, book
from tests.integration.callbacks.test_service import book as book_in_slot

AHMED = "+31611110001"
JAN = "+31612345678"
A_TIME = re.compile(r"\b\d{2}:\d{2}\b")  # every such text names a concrete time


def texts_to(world: CallbackWorld, number: str) -> list:
    return [m for m in world.sim.sent_messages() if m.to == number]


def test_a_promise_whose_every_attempt_fails_is_dialled_and_told_inside_its_window(
    world, technisch, make_agent
) -> None:
    make_agent("Ahmed", AHMED, ("technisch",))
    world.sim.add_agent(AHMED)
    world.sim.add_callee(JAN, answers=False)
    promise = book(world, technisch, JAN)  # window 30 minutes from now, 15 long, dialled a minute in

    world.run_until(promise.window_end)

    calls = world.calls_to(JAN)
    assert len(calls) == 3  # every attempt reached the caller's phone
    for call in calls:
        # The caller's phone rang inside the window, and the attempt was over before it ended.
        assert promise.window_start <= call.date_created <= promise.window_end
        assert call.date_created + timedelta(seconds=DEFAULT_POLICY.caller_ring_seconds) < promise.window_end
    [text] = texts_to(world, JAN)
    assert text.date_created < promise.window_end
    assert A_TIME.findall(text.body)[-1] not in ("", None) and len(A_TIME.findall(text.body)) >= 3
    assert world.promise(promise.id).state == "missed"


def test_with_no_agent_free_the_text_goes_out_before_the_window_ends_naming_a_time(
    world, technisch, make_agent
) -> None:
    make_agent("Ahmed", AHMED, ("technisch",), state=AgentState.ON_CALL.value)  # busy all along
    world.sim.add_callee(JAN)
    promise = book(world, technisch, JAN)

    world.run_until(promise.window_end)

    assert world.calls_to(JAN) == []
    [text] = texts_to(world, JAN)
    assert text.date_created < promise.window_end - DEFAULT_POLICY.notice_before_end + timedelta(seconds=1)
    assert len(A_TIME.findall(text.body)) >= 3  # the old window and a new concrete one
    assert "zo snel mogelijk" not in text.body


def test_the_forecast_moves_a_promise_ten_minutes_ahead_when_the_agent_on_shift_is_away(
    world, db, technisch, make_agent, clock
) -> None:
    now = clock.now()
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    ahmed = make_agent("Ahmed", AHMED, ("technisch",), shifts=[(now - timedelta(hours=1), now + timedelta(hours=8))])
    later = (start + timedelta(hours=2), start + timedelta(hours=4))
    make_agent("Sanne", "+31611110002", ("technisch",), shifts=[later])  # her shift has not begun: planned
    promise = book_in_slot(db, technisch, now, number=JAN, near=start)
    window_start = promise.window_start
    with db.session() as session:
        session.get(Agent, ahmed.id).state = AgentState.AWAY.value  # on shift, but not logged in
    world.reconcile_every = timedelta(seconds=30)

    world.run_until(window_start - timedelta(minutes=10))

    with db.session() as session:
        old = session.get(CallbackPromise, promise.id)
        assert old.state == "moved"
        new = session.scalars(select(CallbackPromise).where(CallbackPromise.id == old.moved_to_id)).one()
        # Not into Ahmed's next slots (he is away on them too) but into the first of Sanne's.
        assert new.moved_by_us and new.window_start == later[0] and new.reason == FORECAST_CAUSE
    _confirmation, text = texts_to(world, JAN)  # one text about the move, not one a slot
    assert text.date_created <= window_start - timedelta(minutes=10)
    assert len(A_TIME.findall(text.body)) >= 4  # the old window and the new one
