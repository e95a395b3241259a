"""Distribution: priority then waiting time, preferred agents, no answer, and no double hand-out."""

from __future__ import annotations

import multiprocessing
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from rq import SimpleWorker
from sqlalchemy import event, select
from twilio.rest import Client

import terugbel.schema  # noqa: F401  (every model, so Base.metadata is the whole schema)
from routing.agents import change_agent_state
from routing.distribution import (
    agent_became_available,
    agent_did_not_answer,
    caller_enqueued,
    dispatch_waiting,
    enqueue_caller,
    enqueue_decision,
    leave_queue,
    mark_connected,
    offer_agent,
    offer_caller,
)
from routing.models import Agent, Contact, QueueEntry
from routing.route import route_contact
from telephony.simulator import Simulator
from telephony.twilio_adapter import RebasedHttpClient, build_telephony
from terugbel.clock import Clock, ManualClock
from terugbel.db import Database
from terugbel.redis_conn import DIAL_QUEUE, queue
from terugbel.runtime import Runtime
from terugbel.settings import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN
from terugbel.unit_of_work import unit_of_work
from terugbel.wiring import WEBHOOK_URLS
from tests.integration.routing.fixtures import add_contact, add_waiting


def state_of(db: Database, model: Any, row_id: int) -> str:
    with db.session() as session:
        return session.get(model, row_id).state


def test_priority_then_waiting_time(db: Database, clock: ManualClock, make_queue: Any, make_agent: Any) -> None:
    now = clock.now()
    queue = make_queue("technisch")
    old_low = add_waiting(db, queue, enqueued_at=now - timedelta(minutes=9), priority=0)
    new_high = add_waiting(db, queue, enqueued_at=now - timedelta(minutes=1), priority=2)
    old_high = add_waiting(db, queue, enqueued_at=now - timedelta(minutes=3), priority=2)
    agents = [make_agent(f"A{i}", f"+3161111002{i}", ("technisch",)) for i in range(4)]
    order = []
    for agent in agents:
        with db.session() as session:
            reservation = offer_agent(session, agent.id, now)
        order.append(reservation.queue_entry_id if reservation else None)
    assert order == [old_high.id, new_high.id, old_low.id, None]
    assert state_of(db, Agent, agents[0].id) == "reserved"
    assert state_of(db, Agent, agents[3].id) == "available"  # nobody left: stays available
    assert state_of(db, QueueEntry, old_high.id) == "reserved"


def test_only_agents_with_the_skill_and_only_available_ones(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    now = clock.now()
    billing = make_queue("facturen")
    entry = add_waiting(db, billing, enqueued_at=now)
    tech = make_agent("Ahmed", "+31611110002", ("technisch",))
    busy = make_agent("Sanne", "+31611110001", ("facturen",), state="on_call")
    with db.session() as session:
        assert offer_agent(session, tech.id, now) is None
        assert offer_agent(session, busy.id, now) is None
    with db.session() as session:
        change_agent_state(session, busy.id, "available", now)
    with db.session() as session:
        reservation = offer_agent(session, busy.id, now)
    assert reservation is not None and reservation.queue_entry_id == entry.id
    connect_path = WEBHOOK_URLS.queue_connect.format(queue_entry_id=reservation.queue_entry_id)
    assert reservation.agent_phone == "+31611110001" and connect_path == f"/twilio/voice/connect/{entry.id}"


def test_preferred_agent_is_waited_for_until_preferred_until(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    now = clock.now()
    billing = make_queue("facturen")
    sanne = make_agent("Sanne", "+31611110001", ("facturen",), state="on_call")
    eva = make_agent("Eva", "+31611110004", ("facturen",))
    monique = add_waiting(
        db, billing, enqueued_at=now, priority=2, preferred_agent=sanne, preferred_until=now + timedelta(seconds=60)
    )
    other = add_waiting(db, billing, enqueued_at=now + timedelta(seconds=1))
    with db.session() as session:
        first = offer_agent(session, eva.id, now)
    assert first is not None and first.queue_entry_id == other.id  # Monique waits for Sanne
    with db.session() as session:
        mark_connected(session, other.id, now)  # Eva took the other caller, and is free again
        change_agent_state(session, eva.id, "available", now)
        assert offer_caller(session, monique.id, now) is None
    clock.advance(seconds=61)
    with db.session() as session:
        late = offer_agent(session, eva.id, clock.now())
    assert late is not None and late.queue_entry_id == monique.id and not late.preferred


def test_preferred_agent_gets_their_caller_first(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    now = clock.now()
    billing = make_queue("facturen")
    tech = make_queue("technisch")
    sanne = make_agent("Sanne", "+31611110001", ("facturen",), state="on_call")
    add_waiting(db, billing, enqueued_at=now - timedelta(minutes=5), priority=5)
    mine = add_waiting(db, tech, enqueued_at=now, preferred_agent=sanne, preferred_until=now + timedelta(seconds=60))
    with db.session() as session:
        change_agent_state(session, sanne.id, "available", now)
    with db.session() as session:
        reservation = offer_agent(session, sanne.id, now)
    # Preferred even from a queue whose skill Sanne lacks, and before a higher priority.
    assert reservation is not None and reservation.queue_entry_id == mine.id and reservation.preferred


def test_new_caller_gets_a_free_agent_longest_idle_first(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    now = clock.now()
    queue = make_queue("technisch")
    make_agent("Recent", "+31611110031", ("technisch",))
    clock.advance(seconds=-600)
    idle = make_agent("Idle", "+31611110032", ("technisch",))
    clock.advance(seconds=600)
    with db.session() as session:
        entry = enqueue_caller(session, call_sid="CA" + "1" * 32, queue_id=queue.id, now=now)
        again = enqueue_caller(session, call_sid="CA" + "1" * 32, queue_id=queue.id, now=now)
        assert again.id == entry.id
    with db.session() as session:
        reservation = offer_caller(session, entry.id, now)
    assert reservation is not None and reservation.agent_id == idle.id


def test_agent_did_not_answer_goes_away_and_caller_back_to_the_head(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    now = clock.now()
    queue = make_queue("technisch")
    first = add_waiting(db, queue, enqueued_at=now - timedelta(minutes=5))
    add_waiting(db, queue, enqueued_at=now - timedelta(minutes=1))
    silent = make_agent("Stil", "+31611110041", ("technisch",))
    other = make_agent("Wakker", "+31611110042", ("technisch",))
    with db.session() as session:
        assert offer_agent(session, silent.id, now).queue_entry_id == first.id
    clock.advance(seconds=30)
    with db.session() as session:
        entry = agent_did_not_answer(session, first.id, clock.now())
        assert entry.state == "waiting" and entry.reserved_agent_id is None
    assert state_of(db, Agent, silent.id) == "away"
    with db.session() as session:
        assert offer_agent(session, other.id, clock.now()).queue_entry_id == first.id


def test_connected_caller_sets_agent_on_call_and_handle_time_starts(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any, make_caller: Any, make_intent: Any
) -> None:
    now = clock.now()
    queue = make_queue("facturen")
    make_intent("factuur", queue)
    sanne = make_agent("Sanne", "+31611110001", ("facturen",))
    contact = add_contact(db, make_caller(), started_at=now, outcome="in_progress")
    with db.session() as session:
        decision = route_contact(
            session, caller_id=None, intent_name="factuur", words=None, language="nl", now=now, contact_id=contact.id
        )
        entry = enqueue_decision(session, call_sid="CA" + "2" * 32, decision=decision, now=now, contact_id=contact.id)
    with db.session() as session:
        offer_agent(session, sanne.id, now)
    clock.advance(seconds=20)
    with db.session() as session:
        connected = mark_connected(session, entry.id, clock.now())
        assert connected.state == "connected" and connected.left_at == clock.now()
    assert state_of(db, Agent, sanne.id) == "on_call"
    with db.session() as session:
        assert session.get(Contact, contact.id).agent_id == sanne.id


def reserved_pair(db: Database, clock: Clock, make_queue: Any, make_agent: Any) -> tuple[QueueEntry, Agent]:
    """One waiting caller, reserved for the one agent who was available."""
    queue = make_queue("technisch")
    entry = add_waiting(db, queue, enqueued_at=clock.now())
    agent = make_agent("A", "+31611110051", ("technisch",))
    with db.session() as session:
        assert offer_agent(session, agent.id, clock.now()) is not None
    return entry, agent


def test_caller_who_hangs_up_frees_the_reserved_agent(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    now = clock.now()
    entry, agent = reserved_pair(db, clock, make_queue, make_agent)
    with db.session() as session:
        assert leave_queue(session, entry.call_sid, now).state == "left"
        assert leave_queue(session, "CA-unknown", now) is None
    assert state_of(db, Agent, agent.id) == "available"


def test_an_agent_being_rung_who_is_made_available_keeps_the_caller(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    now = clock.now()
    entry, agent = reserved_pair(db, clock, make_queue, make_agent)
    for _ in range(3):  # a second click, a retried request: the reservation stands, nobody is handed out again
        with db.session() as session:
            assert change_agent_state(session, agent.id, "available", now).state == "reserved"
        with db.session() as session:
            assert offer_agent(session, agent.id, now) is None
    with db.session() as session:
        held = session.get(QueueEntry, entry.id)
        assert (held.state, held.reserved_agent_id) == ("reserved", agent.id)
    with db.session() as session:
        assert change_agent_state(session, agent.id, "away", now).state == "away"
    with db.session() as session:
        freed = session.get(QueueEntry, entry.id)
        assert (freed.state, freed.reserved_agent_id) == ("waiting", None)  # for someone else now


def test_a_state_change_that_read_the_agent_before_another_reserved_them_leaves_the_reservation(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    """Two "available" clicks: the late one read the agent away, then the first one made them
    available and reserved the waiting caller. The late write must not undo that reservation."""
    if db.is_sqlite:
        pytest.skip("SQLite serialises every writer: no change commits between another's read and write")
    now = clock.now()
    queue = make_queue("technisch")
    entry = add_waiting(db, queue, enqueued_at=now)
    agent = make_agent("A", "+31611110051", ("technisch",), state="away")
    first: list[Any] = []

    def the_first_click_commits_in_between(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if first or not statement.startswith("UPDATE agents"):
            return
        first.append(None)
        with db.session() as session:
            change_agent_state(session, agent.id, "available", now)
        with db.session() as session:
            first[0] = offer_agent(session, agent.id, now)

    event.listen(db.engine, "before_cursor_execute", the_first_click_commits_in_between)
    try:
        with db.session() as session:
            change_agent_state(session, agent.id, "available", now)
    finally:
        event.remove(db.engine, "before_cursor_execute", the_first_click_commits_in_between)
    with db.session() as session:
        late = offer_agent(session, agent.id, now)
    assert first[0] is not None and first[0].queue_entry_id == entry.id and late is None
    with db.session() as session:
        held = session.get(QueueEntry, entry.id)
        assert (held.state, held.reserved_agent_id) == ("reserved", agent.id)
        assert session.get(Agent, agent.id).state == "reserved"


def test_reserved_is_not_set_by_hand(db: Database, clock: ManualClock, make_agent: Any) -> None:
    agent = make_agent()
    with pytest.raises(ValueError), db.session() as session:
        change_agent_state(session, agent.id, "reserved", clock.now())


# -- two processes freeing agents at once -----------------------------------------------------


def _free_agents(url: str, agent_ids: list[int], now_iso: str, barrier: Any, results: Any) -> None:
    """In a separate process: make each agent available and offer them the best waiting caller."""
    from datetime import datetime

    database = Database(url)
    now = datetime.fromisoformat(now_iso)
    barrier.wait(timeout=30)
    got = []
    for agent_id in agent_ids:
        with database.session() as session:
            change_agent_state(session, agent_id, "available", now)
        with database.session() as session:
            reservation = offer_agent(session, agent_id, now)
        got.append((agent_id, reservation.queue_entry_id if reservation else None))
    database.dispose()
    results.put(got)


def test_two_processes_never_hand_out_an_agent_or_caller_twice(
    db: Database, clock: ManualClock, make_queue: Any, make_agent: Any
) -> None:
    now = clock.now()
    queue = make_queue("technisch")
    entries = [
        add_waiting(db, queue, enqueued_at=now - timedelta(seconds=7 * i % 300), priority=i % 3) for i in range(30)
    ]
    agents = [make_agent(f"A{i}", f"+316111101{i:02d}", ("technisch",), state="on_call") for i in range(20)]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    halves = [[a.id for a in agents[0::2]], [a.id for a in agents[1::2]]]
    workers = [
        context.Process(target=_free_agents, args=(db.url, half, now.isoformat(), barrier, results)) for half in halves
    ]
    for worker in workers:
        worker.start()
    per_process = [results.get(timeout=90) for _ in workers]
    handed = [pair for got in per_process for pair in got]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    taken = [entry_id for _, entry_id in handed if entry_id is not None]
    assert len(handed) == 20 and len(taken) == 20
    assert len(set(taken)) == 20  # no caller twice
    best = sorted(entries, key=lambda e: (-e.priority, e.enqueued_at, e.id))[:20]
    assert set(taken) == {e.id for e in best}  # priority, then waiting time
    rank = {e.id: position for position, e in enumerate(best)}
    for got in per_process:  # each process took the best caller still waiting each time
        ranks = [rank[entry_id] for _, entry_id in got]
        assert ranks == sorted(ranks)
    with db.session() as session:
        reserved = session.scalars(select(QueueEntry).where(QueueEntry.state == "reserved")).all()
        assert len({e.reserved_agent_id for e in reserved}) == 20  # no agent twice
        assert {a.state for a in session.scalars(select(Agent))} == {"reserved"}


# -- through the Telephony port, against the simulated Twilio ---------------------------------


@pytest.fixture
def sim_runtime(runtime: Runtime, clock: ManualClock) -> Iterator[tuple[Runtime, Simulator]]:
    """The test runtime with its Telephony pointed at a running simulator."""
    simulator = Simulator(clock=clock).start()
    runtime._telephony = build_telephony(runtime.settings.with_overrides(twilio_api_base_url=simulator.rest_base_url))
    yield runtime, simulator
    simulator.stop()


def _live_call(simulator: Simulator) -> str:
    client = Client(SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, http_client=RebasedHttpClient(simulator.rest_base_url))
    return client.calls.create(to="+31612345678", from_="+3197010000000", url="https://app.example/wait").sid


def test_agent_became_available_redirects_the_waiting_call(
    sim_runtime: tuple[Runtime, Simulator], make_queue: Any, make_agent: Any
) -> None:
    runtime, simulator = sim_runtime
    now = runtime.clock.now()
    queue = make_queue("technisch")
    agent = make_agent("Ahmed", "+31611110002", ("technisch",), state="wrap_up")
    call_sid = _live_call(simulator)
    with runtime.db.session() as session:
        entry = enqueue_caller(session, call_sid=call_sid, queue_id=queue.id, now=now)
        change_agent_state(session, agent.id, "available", now)
    reservation = agent_became_available(runtime, agent.id)
    assert reservation is not None and reservation.call_sid == call_sid
    assert (simulator.call(call_sid).pending_update or {})["url"] == runtime.url(f"/twilio/voice/connect/{entry.id}")
    assert state_of(runtime.db, QueueEntry, entry.id) == "reserved"


def test_a_caller_gone_from_the_network_is_dropped_and_the_next_one_served(
    sim_runtime: tuple[Runtime, Simulator], make_queue: Any, make_agent: Any
) -> None:
    runtime, simulator = sim_runtime
    now = runtime.clock.now()
    queue = make_queue("technisch")
    gone = add_waiting(runtime.db, queue, enqueued_at=now - timedelta(minutes=2))  # unknown to the network
    call_sid = _live_call(simulator)
    agent = make_agent("Ahmed", "+31611110002", ("technisch",), state="away")
    with runtime.db.session() as session:
        waiting = enqueue_caller(session, call_sid=call_sid, queue_id=queue.id, now=now)
        change_agent_state(session, agent.id, "available", now)
    reservation = agent_became_available(runtime, agent.id)
    assert reservation is not None and reservation.queue_entry_id == waiting.id
    assert state_of(runtime.db, QueueEntry, gone.id) == "left"
    assert [r.call_sid for r in dispatch_waiting(runtime)] == []  # nothing left to match


def test_caller_enqueued_connects_to_a_free_agent(
    sim_runtime: tuple[Runtime, Simulator], make_queue: Any, make_agent: Any
) -> None:
    runtime, simulator = sim_runtime
    queue = make_queue("technisch")
    agent = make_agent("Ahmed", "+31611110002", ("technisch",))
    call_sid = _live_call(simulator)
    with runtime.db.session() as session:
        entry = enqueue_caller(session, call_sid=call_sid, queue_id=queue.id, now=runtime.clock.now())
    reservation = caller_enqueued(runtime, entry.id)
    assert reservation is not None and reservation.agent_id == agent.id
    assert (simulator.call(call_sid).pending_update or {})["url"].endswith(f"/twilio/voice/connect/{entry.id}")


def _work_dial_queue(runtime: Runtime) -> None:
    worker = SimpleWorker([queue(runtime.redis, DIAL_QUEUE)], connection=runtime.redis)
    worker.work(burst=True, with_scheduler=False, logging_level="WARNING")


def _reserved_pair_and_a_caller_behind(
    runtime: Runtime, simulator: Simulator, make_queue: Any, make_agent: Any
) -> tuple[QueueEntry, Agent, QueueEntry, str]:
    """A caller reserved for the one agent, and a second caller (a live call) waiting behind them."""
    entry, agent = reserved_pair(runtime.db, runtime.clock, make_queue, make_agent)
    next_call = _live_call(simulator)
    with runtime.db.session() as session:
        waiting = enqueue_caller(session, call_sid=next_call, queue_id=entry.queue_id, now=runtime.clock.now())
    return entry, agent, waiting, next_call


def test_an_agent_freed_in_a_request_is_offered_by_a_dial_job_not_in_the_request(
    sim_runtime: tuple[Runtime, Simulator], make_queue: Any, make_agent: Any
) -> None:
    """A webhook that frees an agent answers at once: the offer, which may dial or redirect, is a job."""
    runtime, simulator = sim_runtime
    now = runtime.clock.now()
    entry, agent, waiting, next_call = _reserved_pair_and_a_caller_behind(runtime, simulator, make_queue, make_agent)
    with unit_of_work(runtime) as session:
        leave_queue(session, entry.call_sid, now)  # the reserved caller hung up: the agent is free

    assert state_of(runtime.db, QueueEntry, waiting.id) == "waiting"  # not offered in the request
    assert simulator.call(next_call).pending_update is None
    [job] = queue(runtime.redis, DIAL_QUEUE).jobs
    assert job.func_name == "routing.distribution.offer_freed_agent" and job.args == (agent.id,)

    _work_dial_queue(runtime)
    assert state_of(runtime.db, QueueEntry, waiting.id) == "reserved"
    assert (simulator.call(next_call).pending_update or {})["url"].endswith(f"/twilio/voice/connect/{waiting.id}")


def _port_nobody_listens_on() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_without_redis_a_freed_agent_is_offered_in_the_request(
    sim_runtime: tuple[Runtime, Simulator], make_queue: Any, make_agent: Any
) -> None:
    runtime, simulator = sim_runtime
    now = runtime.clock.now()
    entry, _agent, waiting, _next_call = _reserved_pair_and_a_caller_behind(runtime, simulator, make_queue, make_agent)
    working_redis = runtime.redis
    runtime.redis = redis.Redis(port=_port_nobody_listens_on(), socket_connect_timeout=1)  # nothing listens there
    try:
        with unit_of_work(runtime) as session:
            leave_queue(session, entry.call_sid, now)
    finally:
        runtime.redis = working_redis
    assert state_of(runtime.db, QueueEntry, waiting.id) == "reserved"  # slow beats idle
    assert queue(runtime.redis, DIAL_QUEUE).count == 0
