"""Every TwiML document the app answers with, built with the official builders.

The voice menu's actions (ivr/flow_types.py) and the legs of a callback call. This is the one place
that knows the webhooks' URLs the TwiML points Twilio at; `url` turns such a path into the public URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse
from twilio.twiml.voice_response import Enqueue as EnqueueVerb

from ivr.agent_legs import ConnectAgent
from ivr.flow_types import SPEECH_LANGUAGES, SPEECH_MODEL, Action, Ask, Enqueue, Goodbye, Line, Transfer
from terugbel.settings import Settings

MAX_HINTS = 100
SPEECH_END_SECONDS = 2  # silence after words that ends the caller's answer
DEFAULT_VOICES = {"nl": "Polly.Lotte", "en": "Polly.Amy"}
GATHER_PATH = "/twilio/voice/gather"
WAIT_PATH = "/twilio/voice/wait"
WAIT_CHOICE_PATH = "/twilio/voice/wait/choice"
QUEUE_RESULT_PATH = "/twilio/voice/queue-result"


def voices_of(settings: Settings) -> dict[str, str]:
    """The text-to-speech voice per language: the deployment's choice, else Polly's Dutch and English."""
    return {"nl": settings.voice_nl or DEFAULT_VOICES["nl"], "en": settings.voice_en or DEFAULT_VOICES["en"]}


def say_lines(target: VoiceResponse | Gather, lines: tuple[Line, ...], voices: Mapping[str, str]) -> None:
    for line in lines:
        target.say(line.text, voice=voices.get(line.language), language=SPEECH_LANGUAGES.get(line.language))


def render(
    action: Action | ConnectAgent | None,
    *,
    url: Callable[[str], str],
    voices: Mapping[str, str],
    gather_path: str = GATHER_PATH,
    in_wait: bool = False,
) -> str:
    """TwiML for one flow action; `url` turns an app path into the public URL Twilio calls."""
    response = VoiceResponse()
    if action is None:
        response.hangup()
    elif isinstance(action, Ask):
        response.append(_gather(action, url(gather_path), voices))
        if not in_wait:
            # Only reached if Twilio ignores actionOnEmptyResult: the step still hears "no input".
            response.redirect(url(gather_path), method="POST")
    elif isinstance(action, Goodbye):
        say_lines(response, action.lines, voices)
        response.hangup()
    elif isinstance(action, Enqueue):
        say_lines(response, action.lines, voices)
        enqueue = EnqueueVerb(
            action.queue_name or "algemeen",
            wait_url=url(WAIT_PATH),
            wait_url_method="POST",
            action=url(QUEUE_RESULT_PATH),
            method="POST",
        )
        response.append(enqueue)
    elif isinstance(action, Transfer):
        say_lines(response, action.lines, voices)
        response.dial(action.number, timeout=30)
        response.hangup()
    elif isinstance(action, ConnectAgent):
        dial = Dial(action=url(f"/twilio/voice/connect/{action.entry_id}/done"), method="POST", timeout=20)
        dial.number(action.number, url=url(f"/twilio/voice/whisper/{action.entry_id}"), method="POST")
        response.append(dial)
    return str(response)


def _gather(ask: Ask, action_url: str, voices: Mapping[str, str]) -> Gather:
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
            language=SPEECH_LANGUAGES.get(ask.language, "nl-NL"),
            speech_model=SPEECH_MODEL,
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
    say_lines(gather, (Line(text, language),), voices)
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


# --- the legs of a callback call (webhooks/callback_legs.py) -------------------------------------------
# Said in the language of who hears it (the agent's on the agent's leg, the caller's on theirs), with
# the deployment's voice for that language, as on an inbound call.

AGENT_KEY_SECONDS = 6  # silence after the whisper before the agent hears the keys again


def _say(target: VoiceResponse | Gather, text: str, language: str, voices: Mapping[str, str]) -> None:
    say_lines(target, (Line(text, language),), voices)


def spoken_goodbye(text: str | None, language: str, voices: Mapping[str, str]) -> str:
    """Say `text` (when there is one), then hang up."""
    response = VoiceResponse()
    if text:
        _say(response, text, language, voices)
    response.hangup()
    return str(response)


def agent_whisper_choice(whisper: str, keys: str, language: str, choice_url: str, voices: Mapping[str, str]) -> str:
    """The whisper and the keys, the keys once more, then silence twice goes on as "pass"."""
    response = VoiceResponse()
    first = Gather(num_digits=1, action=choice_url, timeout=AGENT_KEY_SECONDS, input="dtmf")
    _say(first, f"{whisper} {keys}", language, voices)
    response.append(first)
    again = Gather(num_digits=1, action=choice_url, timeout=AGENT_KEY_SECONDS, input="dtmf")
    _say(again, keys, language, voices)
    response.append(again)
    response.redirect(choice_url)  # the choice view without Digits: the agent passes
    return str(response)


def conference_with_agent(
    text: str, language: str, conference: str, after_url: str, voices: Mapping[str, str]
) -> str:
    """The agent waits in the conference the caller is brought into; `after_url` once it ends."""
    response = VoiceResponse()
    _say(response, text, language, voices)
    dial = Dial(action=after_url)
    dial.conference(conference, start_conference_on_enter=True, end_conference_on_exit=True, beep=False)
    response.append(dial)
    return str(response)


def conference_with_caller(text: str, language: str, conference: str, voices: Mapping[str, str]) -> str:
    """The caller, told who calls, joins the agent's conference."""
    response = VoiceResponse()
    _say(response, text, language, voices)
    dial = Dial()
    dial.conference(conference, start_conference_on_enter=True, end_conference_on_exit=True, beep=False)
    response.append(dial)
    return str(response)


def outcome_question(text: str, language: str, outcome_url: str, voices: Mapping[str, str]) -> str:
    """Ask the agent for the call's outcome with one key; no key hangs up."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=outcome_url, timeout=8, input="dtmf")
    _say(gather, text, language, voices)
    response.append(gather)
    response.hangup()
    return str(response)


def hold_a_second(then_url: str) -> str:
    """One second of silence, then fetch `then_url` (answering-machine detection is still running)."""
    response = VoiceResponse()
    response.pause(length=1)
    response.redirect(then_url)
    return str(response)
