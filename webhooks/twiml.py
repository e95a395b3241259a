"""Flow actions rendered as TwiML with the official builders (DESIGN.md §4: TwiML)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Enqueue, Gather, VoiceResponse

from ivr import flow
from ivr.service import ConnectAgent

MAX_HINTS = 100
SPEECH_END_SECONDS = 2  # silence after words that ends the caller's answer
DEFAULT_VOICES = {"nl": "Polly.Lotte", "en": "Polly.Amy"}


def say_lines(target: VoiceResponse | Gather, lines: tuple[flow.Line, ...], voices: Mapping[str, str]) -> None:
    for line in lines:
        target.say(line.text, voice=voices.get(line.language), language=flow.SPEECH_LANGUAGES.get(line.language))


def render(
    action: flow.Action | ConnectAgent | None,
    *,
    url: Callable[[str], str],
    voices: Mapping[str, str],
    gather_path: str = "/twilio/voice/gather",
    in_wait: bool = False,
) -> str:
    """TwiML for one flow action; `url` turns an app path into the public URL Twilio calls."""
    response = VoiceResponse()
    if action is None:
        response.hangup()
    elif isinstance(action, flow.Ask):
        response.append(_gather(action, url(gather_path), voices))
        if not in_wait:
            # Only reached if Twilio ignores actionOnEmptyResult: the step still hears "no input".
            response.redirect(url(gather_path), method="POST")
    elif isinstance(action, flow.Goodbye):
        say_lines(response, action.lines, voices)
        response.hangup()
    elif isinstance(action, flow.Enqueue):
        say_lines(response, action.lines, voices)
        enqueue = Enqueue(
            action.queue_name or "algemeen",
            wait_url=url("/twilio/voice/wait"),
            wait_url_method="POST",
            action=url("/twilio/voice/queue-result"),
            method="POST",
        )
        response.append(enqueue)
    elif isinstance(action, flow.Transfer):
        say_lines(response, action.lines, voices)
        response.dial(action.number, timeout=30)
        response.hangup()
    elif isinstance(action, ConnectAgent):
        dial = Dial(action=url(f"/twilio/voice/connect/{action.entry_id}/done"), method="POST", timeout=20)
        dial.number(action.number, url=url(f"/twilio/voice/whisper/{action.entry_id}"), method="POST")
        response.append(dial)
    return str(response)


def _gather(ask: flow.Ask, action_url: str, voices: Mapping[str, str]) -> Gather:
    options: dict[str, object] = {
        "input": "dtmf speech" if ask.speech else "dtmf",
        "action": action_url,
        "method": "POST",
        "timeout": ask.timeout,
    }
    if ask.act_on_silence:
        options["action_on_empty_result"] = True
    if ask.speech:
        options.update(
            language=flow.SPEECH_LANGUAGES.get(ask.language, "nl-NL"),
            speech_model=flow.SPEECH_MODEL,
            # With an explicit speechModel Twilio wants a number here, not "auto" (warning 13335).
            speech_timeout=SPEECH_END_SECONDS,
        )
        if ask.hints:
            options["hints"] = ", ".join(ask.hints[:MAX_HINTS])
    if ask.num_digits:
        options["num_digits"] = ask.num_digits
    if ask.finish_on_key:
        options["finish_on_key"] = ask.finish_on_key
    gather = Gather(**options)
    say_lines(gather, ask.lines, voices)
    return gather


def whisper(text: str, language: str, accept_url: str, voices: Mapping[str, str]) -> str:
    """The agent's whisper: who and what, then 1 to take the call; no key hangs up the agent leg."""
    response = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=1, timeout=8, action=accept_url, method="POST")
    say_lines(gather, (flow.Line(text, language),), voices)
    response.append(gather)
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def message(text: str | None) -> str:
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
