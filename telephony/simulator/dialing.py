"""<Dial> (Number, Client, Conference, Queue) and <Enqueue>: calls meeting other calls.

Wait documents (waitUrl, <Queue url>) are played through `Engine.execute_verbs`, the verb interpreter
that runs the <Dial> or <Enqueue> itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from telephony.simulator.callrun import CallOver, CallRun, Interrupt, Next, Redirected
from telephony.simulator.network import Network, QueueMember, SimQueue
from telephony.simulator.records import SIMULATOR_NOTE, SimCall, new_sid
from telephony.simulator.scheduler import Process
from telephony.simulator.twiml import Element

if TYPE_CHECKING:
    from telephony.simulator.engine import Engine

DIAL_TIMEOUT = 30
DIAL_TIME_LIMIT = 14400
# Verbs Twilio executes in a waitUrl document (Enqueue) and in a <Queue url> document.
WAIT_VERBS = frozenset({"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"})
QUEUE_URL_VERBS = frozenset({"Play", "Say", "Pause", "Redirect"})


def dial_targets(run: CallRun, verb: Element, engine: Engine) -> Process:
    """Ring the nouns of a <Dial>; bridge the first that answers; return the action parameters."""
    timeout = verb.number("timeout", DIAL_TIMEOUT)
    time_limit = verb.number("timeLimit", DIAL_TIME_LIMIT)
    nouns = verb.children or [Element(name="Number", text=verb.text)]
    conference = next((n for n in nouns if n.name == "Conference"), None)
    if conference is not None:
        return (yield from join_conference(run, conference, engine))
    queue = next((n for n in nouns if n.name == "Queue"), None)
    if queue is not None:
        return (yield from dequeue(run, queue, engine, timeout, time_limit))
    return (yield from dial_numbers(run, verb, nouns, engine, timeout, time_limit))


def dial_numbers(run: CallRun, verb: Element, nouns: list[Element], engine: Engine, timeout: float,
                 time_limit: float) -> Process:
    """Ring every number or client at once; the first to answer (after its whisper) is bridged."""
    caller_id = verb.get("callerId") or (run.call.from_ if run.call.direction == "inbound" else run.call.to)
    candidates = []
    for noun in nouns:
        if noun.name not in {"Number", "Client", "Sip"}:
            run.log(SIMULATOR_NOTE, "warning", f"<Dial><{noun.name}> is not simulated; skipped")
            continue
        target = noun.text if noun.name != "Client" else f"client:{noun.text}"
        party = engine.network.parties.get(target, "callee")
        candidates.append((noun, party))
    answering = [(n, p) for n, p in candidates
                 if p.answers and not p.busy and not p.unreachable and p.ring_seconds <= timeout]
    run.say_turn("system", "(ringing " + ", ".join(p.number for _, p in candidates) + ")", "Dial")
    if not answering:
        status = "no-answer"
        if candidates and all(p.unreachable for _, p in candidates):
            status = "failed"
        elif candidates and all(p.busy or p.unreachable for _, p in candidates):
            status = "busy"
        if status == "no-answer":
            yield from run.pass_time(timeout)
        return {"DialCallStatus": status, "DialBridged": "false"}
    noun, party = min(answering, key=lambda pair: pair[1].ring_seconds)
    yield from run.pass_time(party.ring_seconds)
    child = SimCall(sid=new_sid("CA"), account_sid=run.call.account_sid, from_=caller_id, to=party.number,
                    direction="outbound-dial", date_created=run.now, status="in-progress",
                    parent_call_sid=run.call.sid, start_time=run.now, answer_time=run.now,
                    machine_detection=noun.get("machineDetection"))
    child_run = engine.start_run(child, party)
    child_run.answered = True
    child_run.speaker = "agent"  # whoever a call dials into is the agent side of the transcript
    if child.machine_detection:
        child.answered_by = party.detected_answer(child.machine_detection)
        yield from run.pass_time(3.0)
    whisper = noun.get("url")
    if whisper:
        accepted = yield from _whisper(child_run, run.resolve(whisper), (noun.get("method") or "POST").upper(), engine)
        if not accepted:
            engine.end(child_run, "completed")
            return {"DialCallStatus": "no-answer", "DialCallSid": child.sid, "DialBridged": "false"}
    try:
        seconds = yield from _converse(run, child_run, time_limit)
    finally:
        engine.end(child_run, "completed")  # whoever hung up, the agent's leg ends with the bridge
    return {"DialCallStatus": "completed", "DialCallSid": child.sid, "DialCallDuration": str(int(seconds)),
            "DialBridged": "true"}


def _whisper(child_run: CallRun, url: str, method: str, engine: Engine) -> Process:
    """Run the whisper TwiML on the answering side; a hang-up there means the call is refused."""
    try:
        yield from engine.run_documents(child_run, Next(url=url, method=method))
    except CallOver:
        return False
    return not child_run.call.is_final


def _converse(run: CallRun, other: CallRun, time_limit: float) -> Process:
    """Both sides talk until one hangs up (the other party's talk time, a hang-up, the time limit)."""
    started = run.now
    network = run.engine.network
    bridge = network.bridge(run.call.sid, other.call.sid)
    greeting = other.party.greeting or "(talks)"
    run.say_turn(other.speaker, greeting, "Dial")
    talk = min(other.party.talk_seconds, time_limit)
    try:
        yield from run.pass_time(talk)
        bridge.ended_by = other.call.sid
    except CallOver as over:
        bridge.ended_by = run.call.sid
        if over.by != run.speaker:
            raise
        run.hung_up = True  # the caller hung up: <Dial> still reports to its action URL
    finally:
        bridge.ended_at = run.now
    return (run.now - started).total_seconds()


def dequeue(run: CallRun, noun: Element, engine: Engine, timeout: float, time_limit: float) -> Process:
    """<Dial><Queue>: bridge with the longest-waiting member; an empty queue is waited on until the timeout."""
    network = engine.network
    if noun.text not in network.queues:
        run.log(SIMULATOR_NOTE, "warning", f"<Dial><Queue>{noun.text}: no such queue")
        return {"DialCallStatus": "failed", "DialBridged": "false"}
    queue = network.queue(noun.text)

    def first_waiting() -> QueueMember | None:
        return next((m for m in queue.members if m.bridged_with is None and m.result is None), None)

    if first_waiting() is None:
        run.say_turn("system", f"(waits for a caller in {noun.text})", "Dial")
        arrived = yield from run.wait_until(lambda: first_waiting() is not None, timeout)
        if not arrived:
            return {"DialCallStatus": "no-answer", "DialBridged": "false", "QueueSid": queue.sid}
    member = first_waiting()
    if member is None:  # the caller who arrived hung up in the same instant
        return {"DialCallStatus": "no-answer", "DialBridged": "false", "QueueSid": queue.sid}
    member.bridged_with = run.call.sid
    member.result = "bridged"
    member.left_at = run.now
    queue.members.remove(member)
    queue.waits.append((run.now - member.joined_at).total_seconds())
    caller_run = engine.runs[member.call_sid]
    if noun.get("url"):
        params = {"QueueSid": queue.sid, "DequeingCallSid": run.call.sid,
                  "QueueTime": str(int((run.now - member.joined_at).total_seconds()))}
        member.connect = Next(url=run.resolve(noun.get("url") or ""), method=(noun.get("method") or "POST"),
                              params=params)
    # The member's own process plays the <Queue url> document to it, then says it is ready.
    yield from run.wait_until(lambda: member.ready or caller_run.call.is_final)
    if caller_run.call.is_final:
        return {"DialCallStatus": "completed", "DialCallSid": member.call_sid, "DialBridged": "false",
                "QueueSid": queue.sid}
    run.say_turn("caller", "(talks)", "Dial")
    caller_run.say_turn(run.speaker, run.party.greeting or "(talks)", "Enqueue")
    started = run.now
    bridge = engine.network.bridge(run.call.sid, caller_run.call.sid)
    talk = min(run.party.talk_seconds, time_limit)
    if caller_run.hangup_at is not None:
        talk = min(talk, max((caller_run.hangup_at - run.now).total_seconds(), 0))
    try:
        yield from run.pass_time(talk)
    finally:
        bridge.ended_at = run.now
    return {"DialCallStatus": "completed", "DialCallSid": member.call_sid,
            "DialCallDuration": str(int((run.now - started).total_seconds())), "DialBridged": "true",
            "QueueSid": queue.sid}


def wait_in_queue(run: CallRun, verb: Element, engine: Engine) -> Process:
    """<Enqueue>: hold (playing waitUrl in a loop) until bridged, left, redirected or hung up."""
    network = engine.network
    queue = network.queue(verb.text)
    max_size = int(verb.number("maxQueueSize", 1000))
    entered = run.now
    if len([m for m in queue.members if m.result is None]) >= max_size:
        return {"QueueResult": "queue-full", "QueueSid": queue.sid, "QueueTime": "0"}, None
    member = QueueMember(call_sid=run.call.sid, joined_at=entered)
    queue.members.append(member)
    wait_url = verb.get("waitUrl")
    wait_method = (verb.get("waitUrlMethod") or "POST").upper()
    run.interrupts.append(lambda: "bridged" if member.bridged_with else None)
    run.in_queue = True
    result, redirect_to = "hangup", None

    def queue_params() -> dict[str, str]:
        waiting = [m for m in queue.members if m.result is None]
        position = next((i + 1 for i, m in enumerate(waiting) if m is member), 1)
        return {"QueueSid": queue.sid, "QueuePosition": str(position),
                "QueueTime": str(int((run.now - entered).total_seconds())),
                "AvgQueueTime": str(queue.average_wait()), "CurrentQueueSize": str(len(waiting))}

    try:
        while True:
            if wait_url:
                before = run.now
                document = engine.fetch(run, Next(url=run.resolve(wait_url), method=wait_method,
                                                  params=queue_params()))
                next_ = yield from engine.execute_verbs(run, document.children, WAIT_VERBS, "waitUrl")
                while next_ is not None:
                    # A <Gather> action or <Redirect> in the wait document: the caller stays in the queue.
                    document = engine.fetch(run, next_)
                    next_ = yield from engine.execute_verbs(run, document.children, WAIT_VERBS, "waitUrl")
                if run.now > before:
                    continue
            if not wait_url:
                run.say_turn("system", "(hold music)", "Enqueue")  # Twilio's default waitUrl playlist
            # Without a wait document (or with one that takes no time): wait to be picked up.
            yield from run.wait_until(lambda: member.bridged_with is not None)
    except Interrupt as interrupt:
        if interrupt.reason == "bridged":
            result = "bridged"
            run.interrupts.clear()
            if isinstance(member.connect, Next):
                yield from _play_connect_document(run, member.connect, engine)
            member.ready = True
            yield from _stay_bridged(run, member)
        else:
            result = "leave"
    except Redirected as redirected:
        result, redirect_to = "redirected", redirected.next
    except CallOver:
        _leave(queue, member, "hangup", run)
        action = verb.get("action")
        if action:  # Twilio still tells the action URL; what it answers is not played
            params = {**run.base_params(), "QueueResult": "hangup", "QueueSid": queue.sid,
                      "QueueTime": str(int(((member.left_at or run.now) - entered).total_seconds()))}
            run.notify(run.resolve(action), params, (verb.get("method") or "POST").upper())
        raise
    finally:
        run.interrupts.clear()
        run.in_queue = False
    _leave(queue, member, result, run)
    return {"QueueResult": result, "QueueSid": queue.sid,
            "QueueTime": str(int(((member.left_at or run.now) - entered).total_seconds()))}, redirect_to


def _play_connect_document(run: CallRun, first: Next, engine: Engine) -> Process:
    next_: Next | None = first
    while next_ is not None:
        document = engine.fetch(run, next_)
        next_ = yield from engine.execute_verbs(run, document.children, QUEUE_URL_VERBS, "<Queue url>")


def _stay_bridged(run: CallRun, member: QueueMember) -> Process:
    network = run.engine.network
    yield from run.wait_until(lambda: _bridge_over(network, run.call.sid, member))


def _bridge_over(network: Network, sid: str, member: QueueMember) -> bool:
    return any(bridge.b == sid and bridge.ended_at is not None for bridge in network.bridges)


def _leave(queue: SimQueue, member: QueueMember, result: str, run: CallRun) -> None:
    if member.result is None or member.result == "bridged":
        member.result = result
    if member in queue.members:
        queue.members.remove(member)
        # Twilio's AvgQueueTime counts the time until a member was picked up or gave up.
        queue.waits.append((run.now - member.joined_at).total_seconds())
    if member.left_at is None:
        member.left_at = run.now


def join_conference(run: CallRun, noun: Element, engine: Engine) -> Process:
    """<Dial><Conference>: wait (hold music) until it starts, stay until this side or the room ends it."""
    room = engine.network.conference(noun.text)
    room.participants.append(run.call.sid)
    starts = noun.flag("startConferenceOnEnter", True)
    ends = noun.flag("endConferenceOnExit", False)
    if starts and len(room.participants) >= 2:
        room.started = True
    if starts:
        room.starters += 1
    entered = run.now
    run.say_turn("system", f"(joins conference {noun.text})", "Dial")
    wait_url = noun.get("waitUrl")

    def started() -> bool:
        if not room.started and len(room.participants) >= 2 and room.starters > 0:
            room.started = True
        return room.started or room.ended

    try:
        while not started():
            if wait_url:
                run.interrupts.append(lambda: "started" if started() else None)
                try:
                    document = engine.fetch(run, Next(url=run.resolve(wait_url),
                                                      method=(noun.get("waitMethod") or "POST").upper()))
                    yield from engine.execute_verbs(run, document.children, QUEUE_URL_VERBS, "conference waitUrl")
                except Interrupt:
                    pass
                finally:
                    run.interrupts.clear()
            else:
                yield from run.wait_until(started)
        talk_until = run.now + timedelta(seconds=run.party.talk_seconds)
        if run.party.role == "caller" and run.hangup_at is None:
            talk_until = run.now + timedelta(days=1)
        yield from run.wait_until(lambda: room.ended or run.now >= talk_until,
                                  timeout=(talk_until - run.now).total_seconds())
    finally:
        if run.call.sid in room.participants:
            room.participants.remove(run.call.sid)
            room.starters -= 1 if starts else 0
        if ends or not room.participants:
            room.ended = True
    return {"DialCallStatus": "completed", "DialCallDuration": str(int((run.now - entered).total_seconds())),
            "ConferenceSid": room.sid, "DialBridged": "true"}
