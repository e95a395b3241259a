"""`terugbel simulate …`: run one simulated call or text message against a running Terugbel app."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import requests
import yaml

from telephony.simulator.control import CONTROL_PREFIX
from telephony.simulator.facade import Simulator
from telephony.simulator.parties import Party, load_parties, reply_from_data
from telephony.simulator.sms import send_inbound_sms
from telephony.simulator.transcript import CallTranscript
from terugbel.clock import ManualClock, SystemClock
from terugbel.settings import Settings, SettingsError, load_settings

DEFAULT_APP_URL = "http://127.0.0.1:5000"
DEFAULT_SIMULATOR_URL = "http://127.0.0.1:5099"  # where `terugbel demo` serves it


@click.group("simulate")
def simulate() -> None:
    """Play Twilio against a running app: simulated calls and text messages."""


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _simulator(settings: Settings, app: str | None, realtime: bool) -> Simulator:
    clock = SystemClock() if realtime else ManualClock(SystemClock().now())
    simulator = Simulator.from_settings(settings, clock=clock)
    simulator.app_base_url = (app or settings.public_base_url or DEFAULT_APP_URL).rstrip("/")
    simulator.voice_fallback_path = "/twilio/voice/fallback"  # as an operator configures the number
    return simulator


def _running_simulator(settings: Settings, explicit: str | None, local: bool) -> str | None:
    """The base URL of a running simulator (the demo's) to run the call in, or None to run it here.

    A call must run inside the simulator the app talks to, or the app's REST requests about it
    (redirect, hang up) would not find it.
    """
    if local:
        return None
    base = (explicit or settings.twilio_api_base_url or DEFAULT_SIMULATOR_URL).rstrip("/")
    try:
        answer = requests.get(base + CONTROL_PREFIX + "/health", timeout=2, auth=_auth(settings))
    except requests.RequestException:
        answer = None
    if answer is not None and answer.ok:
        return base
    if explicit:
        raise click.UsageError(f"no simulator answers at {explicit}")
    return None


def _auth(settings: Settings) -> tuple[str, str]:
    return (settings.twilio_account_sid or "", settings.twilio_auth_token or "")


@simulate.command("call")
@click.option("--from", "from_", required=True, help="The caller's number, E.164 (+31612345678).")
@click.option("--to", default=None, help="The number called (default: TWILIO_FROM_NUMBER).")
@click.option("--say", "says", multiple=True, help="What the caller says at a speech prompt (repeatable).")
@click.option("--press", "presses", multiple=True, help="Keys the caller presses at a prompt (repeatable).")
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="YAML/JSON file with callers (and agents, callees) instead of --say/--press.")
@click.option("--app", default=None, help="The app's base URL (default: PUBLIC_BASE_URL).")
@click.option("--hang-up-after", type=float, default=None, help="Seconds after which the caller hangs up.")
@click.option("--realtime", is_flag=True, help="Let pauses and timeouts take real time (local runs).")
@click.option("--simulator", "simulator_url", default=None,
              help="A running simulator to run the call in (default: the demo's, when it runs).")
@click.option("--local", is_flag=True, help="Run the call in this process even when a simulator runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the transcript as JSON.")
def call(from_: str, to: str | None, says: tuple[str, ...], presses: tuple[str, ...], script: Path | None,
         app: str | None, hang_up_after: float | None, realtime: bool, simulator_url: str | None, local: bool,
         as_json: bool) -> None:
    """Call the app and print the transcript.

    The caller answers prompts with each --say, then each --press, in order; when a prompt asks
    for keys and the next reply is words (or the other way round), that prompt hears nothing.
    """
    settings = _settings()
    replies = [{"say": text} for text in says] + [{"press": keys} for keys in presses]
    remote = _running_simulator(settings, simulator_url, local)
    if remote is not None:
        payload: dict[str, Any] = {"from": from_, "to": to, "replies": replies, "hang_up_after": hang_up_after,
                                      "app": app or settings.public_base_url}
        if script is not None:
            payload["parties"] = yaml.safe_load(script.read_text(encoding="utf-8"))
        answer = requests.post(f"{remote}{CONTROL_PREFIX}/inbound-calls", json=payload, auth=_auth(settings),
                               timeout=4 * 3600)
        answer.raise_for_status()
        transcript = CallTranscript.from_dict(answer.json())
    else:
        transcript = _call_here(settings, from_, to, replies, script, app, hang_up_after, realtime)
    if as_json:
        click.echo(json.dumps(transcript.to_dict(), indent=2, default=str))
    else:
        click.echo(transcript.to_text())
    if transcript.errors:
        sys.exit(1)


def _call_here(settings: Settings, from_: str, to: str | None, replies: list[dict[str, str]],
               script: Path | None, app: str | None, hang_up_after: float | None,
               realtime: bool) -> CallTranscript:
    simulator = _simulator(settings, app, realtime)
    party: Party | None = None
    if script is not None:
        for loaded in load_parties(script):
            simulator.network.parties.add(loaded)
        party = simulator.network.parties.parties.get(from_)
    if party is None:
        steps = tuple(reply_from_data(reply) for reply in replies)
        party = Party(number=from_, role="caller", replies=steps, hang_up_after=hang_up_after)
    simulator.network.parties.add(party)
    try:
        return simulator.place_inbound_call(from_, to)
    finally:
        simulator.stop()


@simulate.command("sms")
@click.option("--from", "from_", required=True, help="The sender's number, E.164.")
@click.option("--to", default=None, help="The number texted (default: TWILIO_FROM_NUMBER).")
@click.option("--body", required=True, help="The text of the message.")
@click.option("--app", default=None, help="The app's base URL (default: PUBLIC_BASE_URL).")
@click.option("--simulator", "simulator_url", default=None,
              help="A running simulator to send it through (default: the demo's, when it runs).")
@click.option("--local", is_flag=True, help="Send it from this process even when a simulator runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sms(from_: str, to: str | None, body: str, app: str | None, simulator_url: str | None, local: bool,
        as_json: bool) -> None:
    """Text the app and print its replies."""
    settings = _settings()
    remote = _running_simulator(settings, simulator_url, local)
    if remote is not None:
        answer = requests.post(f"{remote}{CONTROL_PREFIX}/inbound-messages", auth=_auth(settings), timeout=60,
                               json={"from": from_, "to": to, "body": body, "app": app or settings.public_base_url})
        answer.raise_for_status()
        result = answer.json()
    else:
        simulator = _simulator(settings, app, realtime=False)
        url = f"{simulator.app_base_url}/twilio/sms"
        message, sent = send_inbound_sms(simulator.engine, url, from_, to or simulator.number, body)
        result = {"sid": message.sid, "replies": [m.body for m in simulator.sent_messages()],
                  "error": sent.error_code}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"Sent {result['sid']}")
        for reply in result["replies"]:
            click.echo(f"reply: {reply}")
    if result.get("error"):
        sys.exit(1)
