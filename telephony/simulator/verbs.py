"""What each TwiML verb does on a simulated call, with Twilio's documented defaults.

Each handler is a process (see scheduler.py) returning the `Next` document to fetch, or None to go on
with the verb after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from telephony.simulator.callrun import CallOver, CallRun, Interrupt, Next, Redirected
from telephony.simulator.dialing import dial_targets, wait_in_queue
from telephony.simulator.records import SIMULATOR_NOTE, SimMessage, new_sid
from telephony.simulator.scheduler import Process
from telephony.simulator.twiml import Element

if TYPE_CHECKING:
    from telephony.simulator.engine import Engine

Handler = Callable[[CallRun, Element, "Engine"], Process]
SECONDS_PER_WORD = 0.4
PLAY_SECONDS = 5.0  # the length we pretend every audio file has
GATHER_TIMEOUT = 5
RECORD_TIMEOUT = 5
RECORD_FINISH_KEYS = "1234567890*#"


def speaking_seconds(text: str) -> float:
    return max(1.0, len(text.split()) * SECONDS_PER_WORD)


def execute_verbs(run: CallRun, verbs: list[Element], engine: Engine,
                  allowed: frozenset[str] | None = None, context: str = "") -> Process:
    """Run `verbs` in order; return the first Next a verb asks for, or None at the end.

    `allowed` limits the verbs (wait documents); others are logged as 12200 and skipped.
    """
    for verb in verbs:
        if allowed is not None and verb.name not in allowed:
            run.log(12200, "error", f"<{verb.name}> is not allowed in a {context} document; skipped",
                    run.document_url)
            continue
        handler = HANDLERS.get(verb.name)
        if verb.name != "Reject":
            engine.mark_answered(run)
        run.transcript.verbs.append(verb.name)
        if handler is None:
            run.log(SIMULATOR_NOTE, "warning", f"<{verb.name}> is valid TwiML the simulator does not play; skipped")
            continue
        next_ = yield from handler(run, verb, engine)
        if next_ is not None:
            return next_
    return None


def _action(run: CallRun, verb: Element, params: dict[str, str], *, default_to_document: bool) -> Next | None:
    action = verb.get("action")
    if action is None:
        if not default_to_document or run.document_url is None:
            return None
        action = run.document_url
    return Next(url=run.resolve(action), method=(verb.get("method") or "POST").upper(), params=params)


def _loops(verb: Element) -> int:
    loop = int(verb.number("loop", 1))
    return 1000 if loop == 0 else max(loop, 1)  # loop="0" repeats until the call ends


# --- speaking and waiting -----------------------------------------------------------------------------
def say(run: CallRun, verb: Element, engine: Engine) -> Process:
    text = verb.spoken_text
    loops = _loops(verb)
    run.say_turn("system", text if loops == 1 else f"{text} (x{loops})", "Say")
    run.last_heard = text
    yield from run.pass_time(speaking_seconds(text) * loops)
    return None


def play(run: CallRun, verb: Element, engine: Engine) -> Process:
    digits = verb.get("digits")
    if digits:
        run.say_turn("system", f"(plays tones {digits})", "Play")
        yield from run.pass_time(0.5 * len(digits))
        return None
    run.say_turn("system", f"(plays {verb.text})", "Play")
    yield from run.pass_time(PLAY_SECONDS * _loops(verb))
    return None


def pause(run: CallRun, verb: Element, engine: Engine) -> Process:
    yield from run.pass_time(verb.number("length", 1))
    return None


def hangup(run: CallRun, verb: Element, engine: Engine) -> Process:
    raise CallOver("completed", by="system")
    yield  # a process, like every handler


def reject(run: CallRun, verb: Element, engine: Engine) -> Process:
    if run.answered:
        raise CallOver("completed", by="system")
    reason = verb.get("reason") or "rejected"
    run.say_turn("system", "(busy tone)" if reason == "busy" else "(number not in service)", "Reject")
    raise CallOver("busy" if reason == "busy" else "no-answer", by="system")
    yield


def redirect(run: CallRun, verb: Element, engine: Engine) -> Process:
    return Next(url=run.resolve(verb.text), method=(verb.get("method") or "POST").upper())
    yield


def leave(run: CallRun, verb: Element, engine: Engine) -> Process:
    if not run.in_queue:
        run.log(SIMULATOR_NOTE, "warning", "<Leave> outside a queue does nothing")
        return None
    raise Interrupt("leave")
    yield


# --- input ---------------------------------------------------------------------------------------------
def gather(run: CallRun, verb: Element, engine: Engine) -> Process:
    """Prompts, then the party's reply: Digits (dtmf) or SpeechResult + Confidence (speech).

    With barge-in (Twilio's default) a party whose reply waits for a prompt answers right after that
    prompt, and the rest of the prompts are not played.
    """
    barge_in = verb.flag("bargeIn", True)
    for prompt in verb.children:
        yield from HANDLERS[prompt.name](run, prompt, engine)
        if barge_in and prompt.name == "Say" and run.replies.has_match(run.last_heard):
            break
    inputs = set((verb.get("input") or "dtmf").split())
    timeout = verb.number("timeout", GATHER_TIMEOUT)
    finish_on_key = verb.get("finishOnKey", "#")
    num_digits = int(verb.number("numDigits", 0)) or None
    reply = run.next_reply()
    params: dict[str, str] = {}
    if reply is not None and reply.after_seconds <= timeout:
        yield from run.pass_time(reply.after_seconds)
        if reply.hang_up:
            run.say_turn(run.speaker, "(hangs up)", "Gather")
            raise CallOver("completed", by=run.speaker)
        if reply.press and "dtmf" in inputs:
            keys = reply.press
            if finish_on_key and finish_on_key in keys:
                keys = keys[: keys.index(finish_on_key)]
                params["FinishedOnKey"] = finish_on_key
            if num_digits:
                keys = keys[:num_digits]
            run.say_turn(run.speaker, f"(presses {reply.press})", "Gather")
            yield from run.pass_time(0.3 * len(reply.press))
            if "FinishedOnKey" not in params and (num_digits is None or len(keys) < num_digits):
                yield from run.pass_time(timeout)  # Twilio submits after `timeout` seconds without keys
            params["Digits"] = keys
        elif reply.say and "speech" in inputs:
            run.say_turn(run.speaker, reply.say, "Gather")
            yield from run.pass_time(speaking_seconds(reply.say) + 1.0)
            params.update(SpeechResult=reply.say, Confidence=f"{reply.confidence:.8f}")
            if verb.get("language"):
                params["Language"] = verb.get("language") or ""
        else:
            # Keys to a speech-only Gather or words to a keys-only one: Twilio hears nothing.
            run.say_turn(run.speaker, reply.say or f"(presses {reply.press})", "Gather")
            yield from run.pass_time(timeout)
    else:
        yield from run.pass_time(timeout)
    if not params:
        if verb.flag("actionOnEmptyResult", False):
            return _action(run, verb, {}, default_to_document=True)
        return None  # no input: Twilio goes on with the verb after <Gather>
    return _action(run, verb, params, default_to_document=True)


def record(run: CallRun, verb: Element, engine: Engine) -> Process:
    """A voicemail-style recording; nothing recorded means no action request (Twilio moves on)."""
    if verb.flag("playBeep", True):
        run.say_turn("system", "(beep)", "Record")
    reply = run.next_reply()
    max_length = verb.number("maxLength", 3600)
    timeout = verb.number("timeout", RECORD_TIMEOUT)
    finish_keys = verb.get("finishOnKey", RECORD_FINISH_KEYS) or ""
    if reply is None or not (reply.say or reply.press):
        yield from run.pass_time(timeout)
        return None
    yield from run.pass_time(reply.after_seconds)
    seconds = 0.0
    params: dict[str, str] = {}
    if reply.say:
        run.say_turn(run.speaker, reply.say, "Record")
        seconds = min(speaking_seconds(reply.say), max_length)
        yield from run.pass_time(seconds)
    if reply.press and reply.press[0] in finish_keys:
        params["Digits"] = reply.press[0]
    elif reply.hang_up:
        params["Digits"] = "hangup"
    else:
        yield from run.pass_time(timeout)
    recording_sid = new_sid("RE")
    params.update(RecordingSid=recording_sid, RecordingDuration=str(int(seconds)),
                  RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{run.call.account_sid}"
                               f"/Recordings/{recording_sid}")
    next_ = _action(run, verb, params, default_to_document=True)
    if reply.hang_up:
        if next_ is not None and next_.url:
            run.notify(next_.url, {**run.base_params(), **params}, next_.method)
        raise CallOver("completed", by=run.speaker)
    return next_


def sms(run: CallRun, verb: Element, engine: Engine) -> Process:
    call = run.call
    to = verb.get("to") or (call.from_ if call.direction == "inbound" else call.to)
    from_ = verb.get("from") or (call.to if call.direction == "inbound" else call.from_)
    message = SimMessage(sid=new_sid("SM"), account_sid=call.account_sid, from_=from_, to=to,
                         body=verb.text, direction="outbound-reply", date_created=run.now, status="sent",
                         date_sent=run.now, status_callback=verb.get("statusCallback"), call_sid=call.sid)
    engine.network.add_message(message)
    run.say_turn("system", "(sends a text message)", "Sms")
    return _action(run, verb, {"SmsSid": message.sid, "SmsStatus": "sent"}, default_to_document=False)
    yield


# --- connecting people ------------------------------------------------------------------------------
def dial(run: CallRun, verb: Element, engine: Engine) -> Process:
    result = yield from dial_targets(run, verb, engine)
    next_ = _action(run, verb, result, default_to_document=False)
    if run.hung_up:
        # The caller hung up during the bridge: Twilio still tells the action URL, then ends the call.
        if next_ is not None and next_.url:
            run.notify(next_.url, {**run.base_params(), **next_.params}, next_.method)
        raise CallOver("completed", by=run.speaker)
    return next_


def enqueue(run: CallRun, verb: Element, engine: Engine) -> Process:
    result, redirect_to = yield from wait_in_queue(run, verb, engine)
    if redirect_to is not None:
        return redirect_to
    return _action(run, verb, result, default_to_document=False)


HANDLERS: dict[str, Handler] = {
    "Say": say, "Play": play, "Pause": pause, "Hangup": hangup, "Reject": reject, "Redirect": redirect,
    "Leave": leave, "Gather": gather, "Record": record, "Sms": sms, "Dial": dial, "Enqueue": enqueue,
}

__all__ = ["HANDLERS", "Redirected", "execute_verbs"]
