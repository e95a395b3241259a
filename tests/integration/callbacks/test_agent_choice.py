"""Which available agent a callback reserves: the preferred one, then those on shift, then anyone at their desk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from callbacks.agent_choice import reserve_agent
from callbacks.attempts import last_dial_start
from callbacks.models import CallbackPromise
from routing.models import Agent
from terugbel.clock import ManualClock
from terugbel.db import Database
from tests.integration.dispatch_support import add_promise

JAN = "+31612345678"


def _promise(db: Database, queue: Any, clock: ManualClock, number: str = JAN, **fields: Any) -> CallbackPromise:
    booked = clock.now() - timedelta(hours=1)
    return add_promise(db, queue_id=queue.id, number=number, window_start=clock.now(), booked_at=booked, **fields)


def _reserve(db: Database, promise: CallbackPromise, clock: ManualClock) -> str | None:
    with db.session() as session:
        fresh = session.get(CallbackPromise, promise.id)
        assert fresh is not None
        agent = reserve_agent(session, fresh, [], clock.now())
        return agent.name if agent is not None else None


def _off_shift(make_agent: Callable[..., Any], clock: ManualClock, name: str, phone: str) -> Agent:
    """Available, but their shift ended an hour ago: working late, or a supervisor removed the shift."""
    ended = clock.now() - timedelta(hours=1)
    return make_agent(name, phone, ("technisch",), shifts=[(ended - timedelta(hours=8), ended)])


def test_an_agent_still_available_after_their_shift_takes_the_callback_nobody_on_shift_can(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    technisch = make_queue("technisch")
    make_agent("Sanne", "+31611110001", ("technisch",), state="on_call")  # on shift, busy
    _off_shift(make_agent, clock, "Kees", "+31611110002")
    assert _reserve(db, _promise(db, technisch, clock), clock) == "Kees"


def test_an_agent_on_shift_goes_before_one_idle_longer_after_their_shift(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    technisch = make_queue("technisch")
    _off_shift(make_agent, clock, "Kees", "+31611110002")  # available first: idle the longest
    clock.advance(timedelta(seconds=1))
    make_agent("Sanne", "+31611110001", ("technisch",))
    assert _reserve(db, _promise(db, technisch, clock), clock) == "Sanne"


def test_the_preferred_agent_goes_first_on_shift_or_not(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    technisch = make_queue("technisch")
    make_agent("Sanne", "+31611110001", ("technisch",))
    kees = _off_shift(make_agent, clock, "Kees", "+31611110002")
    assert _reserve(db, _promise(db, technisch, clock, preferred_agent_id=kees.id), clock) == "Kees"


def test_an_agent_of_another_queue_or_away_is_never_reserved(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    technisch = make_queue("technisch")
    make_agent("Sanne", "+31611110001", ("facturen",))
    make_agent("Kees", "+31611110002", ("technisch",), state="away")
    assert _reserve(db, _promise(db, technisch, clock), clock) is None


def test_a_higher_priority_promise_leaves_the_free_agent_only_while_it_can_still_be_dialled(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock
) -> None:
    technisch = make_queue("technisch")
    make_agent("Sanne", "+31611110001", ("technisch",))
    vip = _promise(db, technisch, clock, number="+31687654321", priority=2)
    plain = _promise(db, technisch, clock)
    assert _reserve(db, plain, clock) is None  # the one free agent is the VIP's, who is due now

    # Twelve minutes on, the VIP's 15-minute window has no room for another attempt: it is being given up.
    clock.advance(timedelta(minutes=12))
    assert clock.now() > last_dial_start(vip.window_start, vip.window_end)
    assert _reserve(db, plain, clock) == "Sanne"
