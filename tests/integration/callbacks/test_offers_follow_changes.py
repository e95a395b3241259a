"""Offers follow every change: of the opening hours, of the lead time, of the slot rows themselves.

An offer materialises the slots missing from the days it looks at and then picks among those with
room; slot rows that a rolled-back transaction wrote must never count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from callbacks.models import CallbackSlot
from callbacks.offers import ensure_slots, offer_slots
from routing.models import BusinessHours, Queue
from terugbel.clock import ManualClock
from terugbel.db import Database

AMS = ZoneInfo("Europe/Amsterdam")


def local(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, d, hh, mm, tzinfo=AMS).astimezone(UTC)


def offers_at(db: Database, queue: Any, now: datetime, **kwargs: Any) -> list[datetime]:
    with db.session() as session:
        offers = offer_slots(session, queue_id=queue.id, now=now, zone="Europe/Amsterdam", **kwargs)
    return [offer.window_start for offer in offers]


def slot_exists(db: Database, queue: Any, start: datetime) -> bool:
    with db.session() as session:
        found = session.scalar(
            select(CallbackSlot.id).where(CallbackSlot.queue_id == queue.id, CallbackSlot.starts_at == start)
        )
    return found is not None


@pytest.fixture
def technisch(make_queue: Callable[..., Any], make_agent: Callable[..., Any]) -> Any:
    """Open 08:00–21:00; four agents on the 23rd from 08:00 to 22:00: 3 places a slot."""
    queue = make_queue("technisch")
    for i in range(4):
        make_agent(f"Agent {i}", f"+3161111000{i}", ("technisch",), shifts=[(local(23, 8), local(23, 22))])
    return queue


def remember_today(db: Database, queue: Any, now: datetime) -> None:
    """Offer twice: the first offer writes the slots, the second finds them all."""
    for _ in range(2):
        assert offers_at(db, queue, now)[0] == local(23, 9, 15)


def test_an_hours_change_reaches_the_next_offer(db: Database, technisch: Any, clock: ManualClock) -> None:
    remember_today(db, technisch, clock.now())
    assert not slot_exists(db, technisch, local(23, 21))
    with db.session() as session:
        monday = session.scalars(
            select(BusinessHours).where(BusinessHours.queue_id == technisch.id, BusinessHours.weekday == 0)
        ).one()
        monday.closes = time(22)
    assert offers_at(db, technisch, clock.now(), near=local(23, 21, 15))[0] == local(23, 21, 15)


def test_a_missing_slot_row_is_made_again_by_the_next_offer(db: Database, technisch: Any, clock: ManualClock) -> None:
    remember_today(db, technisch, clock.now())
    with db.session() as session:  # behind the service's back: nothing in the product deletes a slot
        session.execute(delete(CallbackSlot).where(CallbackSlot.starts_at == local(23, 9, 15)))
    # The offer looks for every slot row of the days it offers, under any configuration.
    assert offers_at(db, technisch, clock.now())[0] == local(23, 9, 15)
    with db.session() as session:
        session.get(Queue, technisch.id).label = "Techniek"  # any change sets a new stamp
    assert offers_at(db, technisch, clock.now())[0] == local(23, 9, 15)


def test_a_lead_time_changed_by_another_process_holds_at_the_next_offer(
    db: Database, technisch: Any, clock: ManualClock
) -> None:
    """The configuration is kept per process under its stamp: a change made elsewhere holds at the
    next offer, and at the ones after it."""
    remember_today(db, technisch, clock.now())
    with db.session() as session:
        session.get(Queue, technisch.id).callback_lead_minutes = 60
    assert offers_at(db, technisch, clock.now())[0] == local(23, 10)
    assert offers_at(db, technisch, clock.now())[0] == local(23, 10)  # and under the rules kept since


def test_slots_written_by_a_transaction_that_rolled_back_prove_nothing(
    db: Database, technisch: Any, clock: ManualClock
) -> None:
    now = clock.now()
    with db.session() as session:
        ensure_slots(session, technisch.id, now, local(23, 15), now)
    session = db.new_session()
    with session.begin():
        ensure_slots(session, technisch.id, local(23, 15), local(25, 0), now)
        # Every window of today now has a row, the afternoon's only in this transaction.
        assert offer_slots(session, queue_id=technisch.id, now=now, zone="Europe/Amsterdam")
        session.rollback()
    session.close()
    assert offers_at(db, technisch, now, near=local(23, 16))[0] == local(23, 16)


@pytest.mark.parametrize("count", [1, 3, 8])
def test_offers_are_the_same_whether_or_not_the_slots_exist_yet(
    db: Database, make_queue: Callable[..., Any], make_agent: Callable[..., Any], clock: ManualClock, count: int
) -> None:
    """Tonight's last places, Saturday morning, then nothing until December: every horizon matters."""
    queue = make_queue("technisch")
    december = local(30, 8) + timedelta(days=7)
    for i in range(2):  # two agents for a quarter of an hour: one place a slot
        make_agent(f"Evening {i}", f"+3161111300{i}", ("technisch",), shifts=[(local(24, 20), local(24, 21))])
        make_agent(f"Saturday {i}", f"+3161111310{i}", ("technisch",), shifts=[(local(28, 8), local(28, 9))])
        make_agent(
            f"December {i}", f"+3161111320{i}", ("technisch",), shifts=[(december, december + timedelta(hours=1))]
        )
    with db.session() as session:
        [saturday] = ensure_slots(session, queue.id, local(28, 8), local(28, 8, 15), clock.now())
    for now in (local(24, 20, 10), local(26, 9), local(29, 9), december - timedelta(hours=1)):
        for exclude in ([], [saturday.id]):
            cold = offers_at(db, queue, now, count=count, exclude=exclude)
            # Now every slot of the stretch it read exists: the offer only reads them.
            assert offers_at(db, queue, now, count=count, exclude=exclude) == cold, (now, exclude)
