"""A promise given up: missed at once, then a new time booked and texted in a transaction of its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from callbacks.attempt_steps import attempt_transaction, give_up
from callbacks.booking import book_callback
from callbacks.missed import MISSED_SMS_PURPOSE, UNTOLD_LOOKBACK, rebook_missed
from callbacks.models import CallbackPromise, PromiseState
from callbacks.promise import lock_promise
from callbacks.reconcile import reconcile
from telephony.models import SmsMessage
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime
from terugbel.unit_of_work import after_commit

JAN = "+31612345678"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def promise_id(runtime: Runtime, make_queue: Callable[..., Any], make_agent: Callable[..., Any]) -> int:
    """A promise booked in the technical queue, whose two agents work all day."""
    queue = make_queue("technisch")
    for i in range(2):
        make_agent(f"Agent {i}", f"+3161111000{i}", ("technisch",))
    with runtime.db.session() as session:
        promise = book_callback(
            session, queue_id=queue.id, number=JAN, language="nl", timezone="Europe/Amsterdam",
            now=runtime.clock.now(), problem="mijn modem knippert rood",
        )  # fmt: skip
        return promise.id


def _missed_texts(runtime: Runtime, promise_id: int) -> list[SmsMessage]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(SmsMessage).where(SmsMessage.promise_id == promise_id, SmsMessage.purpose == MISSED_SMS_PURPOSE)
            )
        )


def _promise(runtime: Runtime, promise_id: int) -> CallbackPromise:
    with runtime.db.session() as session:
        promise = session.get(CallbackPromise, promise_id)
        assert promise is not None
        return promise


def _give_up_and_crash(runtime: Runtime, promise_id: int) -> None:
    """Give up in a transaction that commits, then die before its after-commit list runs."""
    with runtime.db.session() as session:
        promise = lock_promise(session, promise_id)
        assert promise is not None
        give_up(session, after_commit(session), promise, runtime.clock.now(), "no agent answered")


def test_giving_up_books_and_texts_a_new_time_once_it_has_committed(runtime: Runtime, promise_id: int) -> None:
    with attempt_transaction(runtime) as (session, after):
        promise = lock_promise(session, promise_id)
        assert promise is not None
        give_up(session, after, promise, runtime.clock.now(), "no agent answered")
        assert promise.moved_to_id is None  # nothing is booked while the promise's row is locked

    missed = _promise(runtime, promise_id)
    assert missed.state == PromiseState.MISSED.value and missed.moved_to_id is not None
    new = _promise(runtime, missed.moved_to_id)
    assert new.state == PromiseState.BOOKED.value and new.window_start >= missed.window_end
    [sms] = _missed_texts(runtime, promise_id)
    assert sms.number == JAN and new.window_start.astimezone(AMSTERDAM).strftime("%H:%M") in sms.body
    assert rebook_missed(runtime, promise_id) is False  # told once: a second run does nothing
    assert len(_missed_texts(runtime, promise_id)) == 1


def test_the_reconciler_books_and_texts_what_a_crash_left_untold(runtime: Runtime, promise_id: int) -> None:
    _give_up_and_crash(runtime, promise_id)
    untold = _promise(runtime, promise_id)
    assert untold.state == PromiseState.MISSED.value and untold.moved_to_id is None
    assert _missed_texts(runtime, promise_id) == []

    report = reconcile(runtime)

    assert report.rebooked == [promise_id]
    told = _promise(runtime, promise_id)
    assert told.moved_to_id is not None and _promise(runtime, told.moved_to_id).state == PromiseState.BOOKED.value
    assert len(_missed_texts(runtime, promise_id)) == 1
    assert reconcile(runtime).rebooked == []  # every worker reconciles: the caller is told once


def test_the_reconciler_leaves_a_promise_missed_long_ago(runtime: Runtime, promise_id: int, clock: ManualClock) -> None:
    _give_up_and_crash(runtime, promise_id)
    clock.advance(UNTOLD_LOOKBACK + timedelta(minutes=1))
    assert reconcile(runtime).rebooked == []
    assert _missed_texts(runtime, promise_id) == []


def test_the_missed_state_commits_while_a_capacity_change_holds_the_slots(runtime: Runtime, promise_id: int) -> None:
    """The legs' status callbacks wait for the promise's row: giving up must not keep it locked
    while the new booking waits for slots another transaction holds."""
    if runtime.db.is_sqlite:
        pytest.skip("SQLite serialises every writer: no slot lock to wait for")
    errors: list[BaseException] = []

    def give_up_in_a_worker() -> None:
        try:
            with attempt_transaction(runtime) as (session, after):
                promise = lock_promise(session, promise_id)
                assert promise is not None
                give_up(session, after, promise, runtime.clock.now(), "no agent answered")
        except BaseException as exc:
            errors.append(exc)

    with runtime.db.engine.connect() as change:
        change.execute(text("SELECT id FROM callback_slots FOR UPDATE"))  # a capacity change in flight
        worker = threading.Thread(target=give_up_in_a_worker)
        worker.start()
        deadline = time.monotonic() + 20
        while _promise(runtime, promise_id).state != PromiseState.MISSED.value:
            assert time.monotonic() < deadline, "giving up waited for the slots"
            time.sleep(0.05)
        assert _promise(runtime, promise_id).moved_to_id is None  # the new booking waits its turn
        change.rollback()
    worker.join(timeout=30)
    assert errors == []
    assert _promise(runtime, promise_id).moved_to_id is not None
    assert len(_missed_texts(runtime, promise_id)) == 1
