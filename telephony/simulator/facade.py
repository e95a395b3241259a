"""`Simulator`: the simulated Twilio in one object, for tests, `terugbel demo` and `terugbel simulate`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, make_server

from telephony.simulator.control import control_blueprint
from telephony.simulator.engine import Engine
from telephony.simulator.network import Network
from telephony.simulator.openapi import SpecValidator
from telephony.simulator.parties import Party, Reply, agent, load_parties
from telephony.simulator.records import SimCall, SimMessage, new_sid
from telephony.simulator.rest import create_rest_app
from telephony.simulator.scheduler import sleep
from telephony.simulator.sms import send_inbound_sms, watch_messages
from telephony.simulator.transcript import CallTranscript
from terugbel.clock import Clock, ManualClock, SystemClock
from terugbel.settings import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, SIMULATOR_FROM_NUMBER

if TYPE_CHECKING:
    from telephony.simulator.faults import FaultPlan
    from terugbel.settings import Settings

Script = Party | Sequence[Reply | str] | str | Path | None


class Simulator:
    """Twilio on 127.0.0.1: a REST API, a voice engine, scripted parties, all on one clock.

    With a ManualClock, calls run only while the simulator is driven (`place_inbound_call`,
    `run_until_idle`) and time jumps; with a real clock, `start()` also runs calls in the background.
    """

    def __init__(self, *, account_sid: str = SIMULATOR_ACCOUNT_SID, auth_token: str = SIMULATOR_AUTH_TOKEN,
                 number: str = SIMULATOR_FROM_NUMBER, clock: Clock | None = None,
                 app_base_url: str | None = None, calls_per_second: float = 1.0,
                 webhook_timeout_seconds: float = 15.0, spec: SpecValidator | bool | None = True,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.clock = clock or SystemClock()
        self.number = number
        self.app_base_url = app_base_url.rstrip("/") if app_base_url else None
        # The number's Fallback URL as configured in the Twilio console (None: not configured).
        self.voice_fallback_path: str | None = None
        self.network = Network(account_sid=account_sid, auth_token=auth_token, clock=self.clock,
                               calls_per_second=calls_per_second,
                               webhook_timeout_seconds=webhook_timeout_seconds)
        self.engine = Engine(self.network)
        watch_messages(self.engine)
        validator = SpecValidator.from_file() if spec is True else (spec or None)
        self.spec: SpecValidator | None = validator
        self.wsgi_app = create_rest_app(self.network, validator)
        self.wsgi_app.register_blueprint(control_blueprint(self))
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None, **options: object) -> Simulator:
        """A simulator with the account, token and number the app is configured with."""
        options.setdefault("app_base_url", settings.public_base_url)
        return cls(account_sid=settings.twilio_account_sid or SIMULATOR_ACCOUNT_SID,
                   auth_token=settings.twilio_auth_token or SIMULATOR_AUTH_TOKEN,
                   number=settings.twilio_from_number or SIMULATOR_FROM_NUMBER, clock=clock,
                   **options)  # type: ignore[arg-type]

    @classmethod
    def for_demo(cls, settings: Settings, *, port: int, app_url: str) -> Simulator:
        """The demo's simulator: real time, REST API on `port`, calls to the app at `app_url`.

        Everyone the demo app dials (agents, customers called back) picks up after two rings' worth of
        seconds, accepts a whisper and talks `settings.demo_talk_seconds`, so a demo call ends soon.
        """
        simulator = cls.from_settings(settings, clock=SystemClock(), port=port)
        simulator.app_base_url = app_url.rstrip("/")
        simulator.voice_fallback_path = "/twilio/voice/fallback"
        simulator.network.parties.default = Party(number="", role="callee", whisper_key="1",
                                                  talk_seconds=settings.demo_talk_seconds, ring_seconds=2)
        return simulator

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Serve the REST API on a thread; with a real clock also run calls in the background."""
        if self._server is not None:
            return self
        self._server = make_server(self._host, self._port, self.wsgi_app, threaded=True)
        self._spawn_thread(lambda: self._server.serve_forever(poll_interval=0.05), "twilio-sim-rest")
        if not self.manual_time:
            self._spawn_thread(lambda: self.network.scheduler.run_until(stop=self._stop), "twilio-sim-calls")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rest_base_url(self) -> str:
        """Where to point the twilio client (settings.twilio_api_base_url)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{self._host}:{self._server.server_port}"

    @property
    def manual_time(self) -> bool:
        return isinstance(self.clock, ManualClock)

    @property
    def faults(self) -> FaultPlan:
        return self.network.faults

    @property
    def status_callback_delivery(self) -> str:
        return self.network.status_callback_delivery

    @status_callback_delivery.setter
    def status_callback_delivery(self, mode: str) -> None:
        """"normal", "duplicate" (every callback twice) or "reversed" (held, sent newest first at the end)."""
        if mode not in {"normal", "duplicate", "reversed"}:
            raise ValueError(mode)
        self.network.status_callback_delivery = mode

    # --- parties -----------------------------------------------------------------------------------
    def add_caller(self, number: str, script: Script = None, **options: object) -> Party:
        """A scripted caller: replies in order (strings are spoken), or a ready Party."""
        return self.network.parties.add(self._party(number, script, "caller", options))

    def add_callee(self, number: str, script: Script = None, **options: object) -> Party:
        """Someone the app calls: e.g. answered_by="machine_end_beep", answers=False, busy=True."""
        return self.network.parties.add(self._party(number, script, "callee", options))

    def add_agent(self, number: str, *, whisper_key: str | None = "1", talk_seconds: float = 60.0,
                  ring_seconds: float = 3.0, answers: bool = True, greeting: str | None = None) -> Party:
        """An agent who answers, presses `whisper_key` on a whisper, then talks `talk_seconds`."""
        return self.network.parties.add(agent(number, whisper_key=whisper_key, talk_seconds=talk_seconds,
                                              ring_seconds=ring_seconds, answers=answers, greeting=greeting))

    def load_parties(self, path: str | Path) -> list[Party]:
        return self.network.parties.load(path)

    def _party(self, number: str, script: Script, role: str, options: dict[str, object]) -> Party:
        if isinstance(script, Party):
            return script
        if isinstance(script, Path) or (isinstance(script, str) and Path(script).suffix in {".yaml", ".yml", ".json"}):
            declared = load_parties(script)
            chosen = [p for p in declared if p.number == number] or declared[:1]
            if not chosen:
                raise ValueError(f"{script} declares no party")
            return replace(chosen[0], number=number)
        steps: Sequence[Reply | str] = [script] if isinstance(script, str) else list(script or ())
        replies = tuple(Reply(say=r) if isinstance(r, str) else r for r in steps)
        return Party(number=number, role=role, replies=replies, **options)  # type: ignore[arg-type]

    # --- calls -------------------------------------------------------------------------------------
    def place_inbound_call(self, from_: str, to: str | None = None, app_base_url: str | None = None,
                           script: Script = None, *, voice_path: str = "/twilio/voice",
                           status_path: str | None = "/twilio/voice/status",
                           fallback_url: str | None = None, wait: bool = True,
                           max_seconds: float = 4 * 3600) -> CallTranscript:
        """Ring the app from `from_` and run the call to its end; return its transcript."""
        base = (app_base_url or self.app_base_url or "").rstrip("/")
        if not base:
            raise ValueError("no app base URL: pass app_base_url or set it on the simulator")
        if script is not None or from_ not in self.network.parties.parties:
            self.add_caller(from_, script)
        party = self.network.parties.get(from_, "caller")
        now = self.clock.now()
        if fallback_url is None and self.voice_fallback_path:
            fallback_url = base + self.voice_fallback_path
        call = SimCall(sid=new_sid("CA"), account_sid=self.network.account_sid, from_=from_,
                       to=to or self.number, direction="inbound", date_created=now, date_updated=now,
                       url=base + voice_path,
                       fallback_url=fallback_url,
                       status_callback=base + status_path if status_path else None)
        transcript = call.transcript = CallTranscript(call.sid, call.from_, call.to, call.direction)
        self.network.add_call(call)
        self.network.scheduler.spawn(self.engine.run_inbound(call, party), name=call.sid)
        if wait:
            self.run_until(lambda: call.is_final, max_seconds=max_seconds)
        return transcript

    def run_until(self, done: Callable[[], bool] | None = None, *, max_seconds: float = 4 * 3600) -> None:
        """Drive the calls until `done()` (ManualClock), or wait for the background thread (real clock)."""
        if self.manual_time or not self._threads:
            self.network.scheduler.run_until(done, max_seconds=max_seconds)
            return
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            if (done is not None and done()) or (done is None and self.network.scheduler.idle):
                return
            time.sleep(0.05)  # bounded poll of the background thread

    def run_for(self, seconds: float) -> None:
        """Drive the calls for `seconds` of simulated time (then e.g. `hang_up` or check the state)."""
        timer = self.network.scheduler.spawn(sleep(seconds), name="run-for")
        self.run_until(lambda: timer.done, max_seconds=seconds + 1)

    def run_until_idle(self, max_seconds: float = 4 * 3600) -> None:
        """Run every queued and live call (and message delivery) to its end."""
        self.run_until(None, max_seconds=max_seconds)

    def calls(self) -> list[SimCall]:
        """Every call the network has seen, newest first (as Twilio lists them)."""
        return self.network.list_calls()

    def call(self, sid: str) -> SimCall:
        found = self.network.get_call(sid)
        if found is None:
            raise KeyError(sid)
        return found

    def on_call_ended(self, listener: Callable[[SimCall], None]) -> None:
        """Call `listener` with every call as it ends; it runs on the thread that runs calls, so must not block."""
        self.network.call_ended_listeners.append(listener)

    def transcript(self, sid: str) -> CallTranscript | None:
        return self.call(sid).transcript

    def hang_up(self, sid: str) -> None:
        """The party on call `sid` hangs up now (it takes effect when the call next waits)."""
        run = self.engine.runs.get(sid)
        if run is None:
            raise KeyError(sid)
        run.hangup_at = self.clock.now()

    # --- messages -----------------------------------------------------------------------------------
    def send_inbound_sms(self, from_: str, to: str | None = None, body: str = "",
                         app_base_url: str | None = None, *, path: str = "/twilio/sms") -> SimMessage:
        """POST an incoming text to the app's SMS webhook, signed like Twilio."""
        base = (app_base_url or self.app_base_url or "").rstrip("/")
        message, _ = send_inbound_sms(self.engine, base + path, from_, to or self.number, body)
        return message

    def sent_messages(self) -> list[SimMessage]:
        """Every text the network sent: through the REST API, <Sms> verbs and SMS replies."""
        return self.network.sent_messages()

    def _spawn_thread(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)
