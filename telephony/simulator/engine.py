"""The simulated voice engine: runs each call's TwiML the way Twilio does, on the network's clock.

A call is a process on the scheduler (see scheduler.py). It requests TwiML from the app over real
HTTP with Twilio's parameters and signature, parses it strictly (twiml.py) and executes the verbs
(verbs.py) against the scripted party on the other end (parties.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import NoReturn

from telephony.simulator.callrun import APPLICATION_ERROR_MESSAGE, CallOver, CallRun, Next, Redirected
from telephony.simulator.network import Network
from telephony.simulator.parties import Party
from telephony.simulator.records import SIMULATOR_NOTE, SimCall
from telephony.simulator.scheduler import Process, sleep
from telephony.simulator.twiml import INVALID_CONTENT_TYPE, Element, TwimlError, parse_voice_twiml
from telephony.simulator.verbs import execute_verbs
from telephony.simulator.webhook import WebhookClient

log = logging.getLogger(__name__)
TWIML_CONTENT_TYPES = ("text/xml", "application/xml", "text/html")
AMD_SECONDS = {"human": 2.5, "unknown": 5.0, "fax": 3.0, "machine_start": 3.5}
MESSAGE_END_SECONDS = 12.0  # a voicemail greeting, until the beep or the silence
MAX_INSTANT_DOCUMENTS = 100


class Engine:
    def __init__(self, network: Network, webhooks: WebhookClient | None = None) -> None:
        self.network = network
        self.clock = network.clock
        self.webhooks = webhooks or WebhookClient(network.auth_token, network.clock,
                                                  network.webhook_timeout_seconds)
        self.runs: dict[str, CallRun] = {}
        network.run_outbound = self.run_outbound

    # --- whole calls ------------------------------------------------------------------------------
    def run_inbound(self, call: SimCall, party: Party) -> Process:
        """A party calls the app's number: Twilio requests the voice URL while the call rings."""
        run = self.start_run(call, party)
        call.status = "ringing"
        call.start_time = self.clock.now()
        run.party_hangs_up_in(party.hang_up_after)
        run.time_limit_at = call.start_time + timedelta(seconds=call.time_limit_seconds)
        try:
            run.status_event("initiated")
            run.status_event("ringing")
            yield from self.run_documents(run, Next(url=call.url, method=call.method, twiml=call.twiml))
            self.end(run, "completed")
        except CallOver as over:
            self.end(run, over.status)
        except Exception as exc:
            self._simulator_fault(run, exc)
            raise

    def run_outbound(self, call: SimCall) -> Process:
        """An API-created call: ring the party, maybe detect a machine, then run the TwiML."""
        if call.is_final:
            return  # canceled through the REST API while it waited for its CPS slot
        party = self.network.parties.get(call.to, "callee")
        run = self.start_run(call, party)
        now = self.clock.now()
        call.start_time = now
        call.queue_time_seconds = int((now - call.date_created).total_seconds())
        try:
            run.status_event("initiated")
            answered = yield from self.ring(run, call.timeout_seconds)
            if not answered:
                return
            yield from self.answer_outbound(run)
            yield from self.run_documents(run, Next(url=call.url, method=call.method, twiml=call.twiml))
            self.end(run, "completed")
        except CallOver as over:
            self.end(run, over.status)
        except Exception as exc:
            self._simulator_fault(run, exc)
            raise

    def _simulator_fault(self, run: CallRun, exc: Exception) -> None:
        """A bug in the simulator itself: end the call visibly rather than leave it hanging."""
        run.log(SIMULATOR_NOTE, "error", f"simulator fault: {exc!r}")
        self.end(run, "completed" if run.answered else "failed")

    def ring(self, run: CallRun, timeout: float) -> Process:
        """Ring the party for at most `timeout` seconds; end the call as busy or no-answer."""
        call, party = run.call, run.party
        call.status = "ringing"
        run.status_event("ringing")
        if party.unreachable:
            run.log(13224, "error", "no carrier could deliver the call to this number")
            self.end(run, "failed")
            return False
        if party.busy:
            self.end(run, "busy")
            return False
        if not party.answers or party.ring_seconds > timeout:
            yield from run.pass_time(timeout)
            self.end(run, "no-answer")
            return False
        yield from run.pass_time(party.ring_seconds)
        return True

    def answer_outbound(self, run: CallRun) -> Process:
        call, party = run.call, run.party
        self.mark_answered(run)
        run.party_hangs_up_in(party.hang_up_after)
        run.time_limit_at = self.clock.now() + timedelta(seconds=call.time_limit_seconds)
        if party.is_machine:
            run.say_turn(run.speaker, "(voicemail greeting)", "answer")
        if not call.machine_detection:
            return
        answered_by = party.detected_answer(call.machine_detection)
        seconds = MESSAGE_END_SECONDS if answered_by.startswith("machine_end") else AMD_SECONDS.get(answered_by, 3)
        if call.async_amd:
            self.network.scheduler.spawn(self._async_amd(run, answered_by, seconds), name=f"amd-{call.sid}")
            return
        yield from run.pass_time(seconds)
        call.answered_by = answered_by
        run.transcript.answered_by = answered_by

    def _async_amd(self, run: CallRun, answered_by: str, seconds: float) -> Process:
        yield from sleep(seconds)
        call = run.call
        if call.is_final:
            return
        call.answered_by = answered_by
        run.transcript.answered_by = answered_by
        if call.async_amd_status_callback:
            run.notify(call.async_amd_status_callback, {
                "AccountSid": call.account_sid, "CallSid": call.sid, "AnsweredBy": answered_by,
                "MachineDetectionDuration": str(int(seconds * 1000)),
            })

    def mark_answered(self, run: CallRun) -> None:
        if run.answered:
            return
        run.answered = True
        run.call.status = "in-progress"
        run.call.answer_time = self.clock.now()
        run.status_event("answered")

    def end(self, run: CallRun, status: str) -> None:
        call = run.call
        if call.is_final:
            return
        call.status = status
        call.end_time = self.clock.now()
        call.date_updated = call.end_time
        run.transcript.status = status
        run.transcript.duration_seconds = call.duration_seconds
        run.status_event("completed")
        for listener in self.network.call_ended_listeners:
            listener(call)

    def start_run(self, call: SimCall, party: Party) -> CallRun:
        """Register a call the engine runs (its own process, or a leg a <Dial> drives)."""
        run = CallRun(self, call, party)
        self.runs[call.sid] = run
        self.network.add_call(call)
        return run

    # --- documents ---------------------------------------------------------------------------------
    def run_documents(self, run: CallRun, first: Next) -> Process:
        """Fetch and execute documents until one ends without saying where to go next."""
        next_: Next | None = first
        while next_ is not None:
            try:
                document = self.fetch(run, next_)
                next_ = yield from self.execute_verbs(run, document.children)
            except Redirected as redirected:
                next_ = redirected.next

    def execute_verbs(self, run: CallRun, verbs: list[Element], allowed: frozenset[str] | None = None,
                      context: str = "") -> Process:
        """Run `verbs` on the call; <Dial> and <Enqueue> play their wait documents through this."""
        return execute_verbs(run, verbs, self, allowed, context)

    def fetch(self, run: CallRun, next_: Next) -> Element:
        """The next document; on failure the FallbackUrl, else Twilio's application-error ending."""
        now = self.clock.now()
        run.instant_fetches = run.instant_fetches + 1 if now == run.last_fetch_at else 0
        run.last_fetch_at = now
        if run.instant_fetches >= MAX_INSTANT_DOCUMENTS:
            # Real Twilio would loop on (and bill) such a call; on a manual clock it would never end.
            self.application_error(run, SIMULATOR_NOTE, f"{MAX_INSTANT_DOCUMENTS} documents without any time "
                                   "passing: a Redirect or Gather loop", next_.url)
        if next_.twiml is not None:
            try:
                return parse_voice_twiml(next_.twiml)
            except TwimlError as exc:
                self.application_error(run, exc.code, exc.message, None)
        url = run.resolve(next_.url or "")
        document, code, message = self._try_fetch(run, url, next_.method, next_.params)
        if document is not None:
            return document
        call = run.call
        if call.fallback_url and url != call.fallback_url:
            params = dict(next_.params, ErrorCode=str(code), ErrorUrl=url)
            document, code, message = self._try_fetch(run, call.fallback_url, call.fallback_method, params)
            if document is not None:
                return document
            url = call.fallback_url
        self.application_error(run, code, message, url)

    def _try_fetch(self, run: CallRun, url: str, method: str,
                   extra: dict[str, str]) -> tuple[Element | None, int, str]:
        params = run.base_params()
        params.update(extra)
        result = self.webhooks.request(url, params, method)
        run.record_request(url, method, result.status)
        if not result.ok:
            run.log(result.error_code or 11200, "error", result.error_message, url)
            return None, result.error_code or 11200, result.error_message
        if result.content_type.split(";")[0].strip().lower() not in TWIML_CONTENT_TYPES:
            message = f"Invalid Content-Type {result.content_type!r}"
            run.log(INVALID_CONTENT_TYPE, "error", message, url)
            return None, INVALID_CONTENT_TYPE, message
        try:
            document = parse_voice_twiml(result.body)
        except TwimlError as exc:
            run.log(exc.code, "error", exc.message, url)
            return None, exc.code, exc.message
        run.document_url = url
        return document, 0, ""

    def application_error(self, run: CallRun, code: int, message: str, url: str | None) -> NoReturn:
        """End the call as Twilio does when the app fails it: the caller hears the error message."""
        if not any(entry.code == code for entry in run.call.log):
            run.log(code, "error", message, url)
        run.call.failed_with = code
        self.mark_answered(run)
        run.say_turn("system", APPLICATION_ERROR_MESSAGE, "application-error")
        raise CallOver("completed", by="system")
