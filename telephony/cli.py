"""`terugbel simulate …`: run one simulated call or text message against a running Terugbel app."""

from __future__ import annotations

import json
import sys
import time
from datetime import tzinfo
from pathlib import Path
from typing import Any

import click
import requests
import yaml

from telephony.simulator.address import address_path, read_address
from telephony.simulator.control import CONTROL_PREFIX
from telephony.simulator.facade import Simulator
from telephony.simulator.parties import Party, bounded, load_parties, reply_from_data
from telephony.simulator.sms import send_inbound_sms
from telephony.simulator.transcript import CallTranscript
from terugbel.clock import ManualClock, SystemClock
from terugbel.settings import Settings, SettingsError, load_settings

# A simulated caller hangs up after this long unless the call ended first, so no run waits for hours.
DEFAULT_HANG_UP_AFTER = 120.0
NEWS_WAIT_SECONDS = 5.0  # how long one request to the running simulator waits for the call's next line
WAIT_GRACE_SECONDS = 30.0  # after the caller's hang-up, how long the call may take to wind down


class SimulateFailed(click.ClickException):
    """One clear line, no traceback: nothing to call, or nothing answers."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"terugbel simulate: {self.message}", err=True)


@click.group("simulate")
def simulate() -> None:
    """Play Twilio against a running app: simulated calls and text messages."""


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _simulator(settings: Settings, app_url: str, realtime: bool) -> Simulator:
    clock = SystemClock() if realtime else ManualClock(SystemClock().now())
    simulator = Simulator.from_settings(settings, clock=clock)
    simulator.app_base_url = app_url
    simulator.voice_fallback_path = "/twilio/voice/fallback"  # as an operator configures the number
    return simulator


def _demo_hint(settings: Settings) -> str:
    return f"start the demo (make demo) so it writes {address_path(settings.data_dir)}"


def _running_simulator(settings: Settings, explicit: str | None) -> tuple[str, str | None]:
    """The running simulator (the demo's) to run a call or text in, and the app it plays Twilio for.

    A call must run inside the simulator the app talks to, or the app's REST requests about it
    (redirect, hang up) would not find it. Asked for explicitly, then as configured, then as the
    demo wrote it in the data dir; never a guessed port, which could be somebody else's app.
    """
    demo = read_address(settings.data_dir)
    base = explicit or settings.twilio_api_base_url or (demo.simulator_url if demo else None)
    if base is None:
        raise SimulateFailed(f"no running simulator: {_demo_hint(settings)}, or pass --simulator URL "
                             "(or --local --app URL to run the call in this process)")
    base = base.rstrip("/")
    try:
        answer = requests.get(base + CONTROL_PREFIX + "/health", timeout=2, auth=_auth(settings))
    except requests.RequestException:
        answer = None
    if answer is None or not answer.ok:
        where = "" if explicit or settings.twilio_api_base_url else f" (named in {address_path(settings.data_dir)}; " \
                                                                   "is the demo still running?)"
        raise SimulateFailed(f"no simulator answers at {base}{where}")
    app = answer.json().get("app") or (demo.app_url if demo else None)
    return base, app


def _app_url(settings: Settings, explicit: str | None, fallback: str | None) -> str:
    """The app to call, checked to answer at all (any HTTP answer will do: a bare TwiML app has no /healthz)."""
    demo = read_address(settings.data_dir)
    url = explicit or settings.public_base_url or fallback or (demo.app_url if demo else None)
    if url is None:
        raise SimulateFailed(f"no app to call: {_demo_hint(settings)}, or pass --app URL")
    url = url.rstrip("/")
    try:
        requests.get(url + "/healthz", timeout=5, allow_redirects=False)
    except requests.RequestException as exc:
        raise SimulateFailed(f"no app answers at {url} ({type(exc).__name__})") from None
    return url


def _auth(settings: Settings) -> tuple[str, str]:
    return (settings.twilio_account_sid or "", settings.twilio_auth_token or "")


@simulate.command("call")
@click.option("--from", "from_", required=True, help="The caller's number, E.164 (+31612345678).")
@click.option("--to", default=None, help="The number called (default: TWILIO_FROM_NUMBER).")
@click.option("--say", "says", multiple=True, help="What the caller says at a speech prompt (repeatable).")
@click.option("--press", "presses", multiple=True, help="Keys the caller presses at a prompt (repeatable).")
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="YAML/JSON file with callers (and agents, callees) instead of --say/--press.")
@click.option("--app", default=None, help="The app's base URL (default: PUBLIC_BASE_URL, else the demo's).")
@click.option("--hang-up-after", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_HANG_UP_AFTER,
              show_default=True, help="Seconds after which the caller hangs up, unless the call ended first.")
@click.option("--realtime", is_flag=True, help="Let pauses and timeouts take real time (local runs).")
@click.option("--simulator", "simulator_url", default=None,
              help="A running simulator to run the call in (default: the demo's).")
@click.option("--local", is_flag=True, help="Run the call in this process instead of a running simulator.")
@click.option("--json", "as_json", is_flag=True, help="Print the transcript as JSON when the call has ended.")
def call(from_: str, to: str | None, says: tuple[str, ...], presses: tuple[str, ...], script: Path | None,
         app: str | None, hang_up_after: float, realtime: bool, simulator_url: str | None, local: bool,
         as_json: bool) -> None:
    """Call the app and print the transcript, each line as it happens, in the contact center's time.

    The caller answers prompts with each --say, then each --press, in order; when a prompt asks
    for keys and the next reply is words (or the other way round), that prompt hears nothing.
    """
    settings = _settings()
    replies = [{"say": text} for text in says] + [{"press": keys} for keys in presses]
    if local:
        app_url = _app_url(settings, app, None)
        transcript = _call_here(settings, from_, to, replies, script, app_url, hang_up_after, realtime)
        if not as_json:
            click.echo(transcript.to_text(settings.zone))
    else:
        remote, simulators_app = _running_simulator(settings, simulator_url)
        app_url = _app_url(settings, app, simulators_app)
        payload: dict[str, Any] = {"from": from_, "to": to, "replies": replies, "hang_up_after": hang_up_after,
                                   "app": app_url}
        if script is not None:
            payload["parties"] = yaml.safe_load(script.read_text(encoding="utf-8"))
        live = None if as_json else settings.zone
        transcript = _follow_call(remote, payload, _auth(settings), live, hang_up_after + WAIT_GRACE_SECONDS)
    if as_json:
        click.echo(json.dumps(transcript.to_dict(), indent=2, default=str))
    if transcript.errors:
        sys.exit(1)


def _follow_call(remote: str, payload: dict[str, Any], auth: tuple[str, str], zone: tzinfo | None,
                 patience: float) -> CallTranscript:
    """Start the call in the running simulator and print each line as it happens (none when `zone` is None).

    Ctrl-C, or a call that outlives `patience`, hangs the caller up, so the call never stays behind.
    """
    started = requests.post(f"{remote}{CONTROL_PREFIX}/inbound-calls", json={**payload, "wait": False},
                            auth=auth, timeout=30)
    started.raise_for_status()
    call_url = f"{remote}{CONTROL_PREFIX}/calls/{started.json()['call_sid']}"
    deadline = time.monotonic() + patience
    seen = 0  # turns printed (or, for --json, read) so far
    headed = hung_up = False
    try:
        while True:
            answer = requests.get(f"{call_url}/transcript", params={"after": seen, "wait": NEWS_WAIT_SECONDS},
                                  auth=auth, timeout=NEWS_WAIT_SECONDS + 10)
            answer.raise_for_status()
            data = answer.json()
            transcript = CallTranscript.from_dict(data)
            if zone is not None:
                lines = [] if headed else [transcript.heading]
                lines += [turn.to_text(zone) for turn in transcript.turns[seen:]]
                if data["ended"]:
                    lines.append(transcript.ending)
                if lines:
                    click.echo("\n".join(lines))
                headed = True
            seen = len(transcript.turns)
            if data["ended"]:
                return transcript
            if time.monotonic() > deadline:
                if hung_up:
                    raise SimulateFailed("the call did not end after the caller hung up")
                requests.post(f"{call_url}/hang-up", auth=auth, timeout=10)
                hung_up, deadline = True, time.monotonic() + WAIT_GRACE_SECONDS
    except KeyboardInterrupt:
        requests.post(f"{call_url}/hang-up", auth=auth, timeout=10)
        raise


def _call_here(settings: Settings, from_: str, to: str | None, replies: list[dict[str, str]],
               script: Path | None, app_url: str, hang_up_after: float, realtime: bool) -> CallTranscript:
    simulator = _simulator(settings, app_url, realtime)
    party: Party | None = None
    if script is not None:
        for loaded in load_parties(script):
            simulator.network.parties.add(loaded)
        party = simulator.network.parties.parties.get(from_)
    if party is None:
        steps = tuple(reply_from_data(reply) for reply in replies)
        party = Party(number=from_, role="caller", replies=steps)
    simulator.network.parties.add(bounded(party, hang_up_after))
    try:
        return simulator.place_inbound_call(from_, to)
    finally:
        simulator.stop()


@simulate.command("sms")
@click.option("--from", "from_", required=True, help="The sender's number, E.164.")
@click.option("--to", default=None, help="The number texted (default: TWILIO_FROM_NUMBER).")
@click.option("--body", required=True, help="The text of the message.")
@click.option("--app", default=None, help="The app's base URL (default: PUBLIC_BASE_URL, else the demo's).")
@click.option("--simulator", "simulator_url", default=None,
              help="A running simulator to send it through (default: the demo's).")
@click.option("--local", is_flag=True, help="Send it from this process instead of a running simulator.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sms(from_: str, to: str | None, body: str, app: str | None, simulator_url: str | None, local: bool,
        as_json: bool) -> None:
    """Text the app and print its replies."""
    settings = _settings()
    result: dict[str, Any]
    if local:
        simulator = _simulator(settings, _app_url(settings, app, None), realtime=False)
        url = f"{simulator.app_base_url}/twilio/sms"
        message, sent = send_inbound_sms(simulator.engine, url, from_, to or simulator.number, body)
        result = {"sid": message.sid, "replies": [m.body for m in simulator.sent_messages()],
                  "error": sent.error_code}
    else:
        remote, simulators_app = _running_simulator(settings, simulator_url)
        answer = requests.post(f"{remote}{CONTROL_PREFIX}/inbound-messages", auth=_auth(settings), timeout=60,
                               json={"from": from_, "to": to, "body": body,
                                     "app": _app_url(settings, app, simulators_app)})
        answer.raise_for_status()
        result = answer.json()
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"Sent {result['sid']}")
        for reply in result["replies"]:
            click.echo(f"reply: {reply}")
    if result.get("error"):
        sys.exit(1)
