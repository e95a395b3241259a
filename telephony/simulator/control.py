"""The simulator's own control API (not Twilio's): lets `terugbel simulate` run a call inside a running
simulator, so the app's REST requests about that call (redirect, hang up) reach the network that has it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, abort, jsonify, make_response, request

from telephony.simulator.parties import Party, bounded, parties_from_data, reply_from_data
from telephony.simulator.sms import send_inbound_sms

if TYPE_CHECKING:
    from telephony.simulator.facade import Simulator

CONTROL_PREFIX = "/_simulator"
MAX_WAIT_SECONDS = 30.0  # the longest a transcript request waits for news


def control_blueprint(simulator: Simulator) -> Blueprint:
    bp = Blueprint("simulator_control", __name__, url_prefix=CONTROL_PREFIX)

    @bp.get("/health")
    def health() -> Response:
        return jsonify({"ok": True, "number": simulator.number, "manual_time": simulator.manual_time,
                        "app": simulator.app_base_url})

    @bp.post("/inbound-calls")
    def inbound_call() -> Response:
        data: dict[str, Any] = request.get_json(silent=True) or {}
        from_ = data.get("from")
        if not from_:
            abort(400, "from is required")
        for party in parties_from_data(data.get("parties") or {}):
            simulator.network.parties.add(party)
        script: Party | None = simulator.network.parties.parties.get(from_) if data.get("parties") else None
        if script is None:
            replies = tuple(reply_from_data(reply) for reply in data.get("replies") or [])
            script = Party(number=from_, role="caller", replies=replies)
        limit = data.get("hang_up_after")
        script = bounded(script, None if limit is None else float(limit))
        follow = data.get("wait", True) is False
        # In manual time nothing drives the call but this request: run it to its end before answering.
        transcript = simulator.place_inbound_call(from_, data.get("to"), data.get("app"), script,
                                                  wait=not follow or simulator.manual_time,
                                                  max_seconds=float(data.get("max_seconds", 3600)))
        if follow:
            # The caller follows the call through GET /calls/<sid>/transcript while it runs.
            return make_response(jsonify({"call_sid": transcript.call_sid}), 202)
        return jsonify(transcript.to_dict())

    @bp.get("/calls/<sid>/transcript")
    def call_transcript(sid: str) -> Response:
        """The call's transcript so far; `ended` says whether more can follow.

        With `after=N&wait=S` the answer waits up to S seconds (at most 30) for a turn beyond the
        first N or the call's end, so a follower asks about once per line instead of many times a second.
        """
        call = simulator.network.get_call(sid)
        if call is None or call.transcript is None:
            abort(404, f"no call {sid}")
        transcript = call.transcript
        after = request.args.get("after", default=0, type=int)
        deadline = time.monotonic() + min(request.args.get("wait", default=0.0, type=float), MAX_WAIT_SECONDS)
        while not call.is_final and len(transcript.turns) <= after and time.monotonic() < deadline:
            time.sleep(0.05)  # the call runs on another thread; look again shortly
        return jsonify({**transcript.to_dict(), "ended": call.is_final})

    @bp.post("/calls/<sid>/hang-up")
    def hang_up(sid: str) -> Response:
        """The party on the call hangs up (as when `terugbel simulate` is stopped or reaches its limit)."""
        try:
            simulator.hang_up(sid)
        except KeyError:
            abort(404, f"no live call {sid}")
        return jsonify({"call_sid": sid})

    @bp.post("/inbound-messages")
    def inbound_message() -> Response:
        data: dict[str, Any] = request.get_json(silent=True) or {}
        if not data.get("from") or data.get("body") is None:
            abort(400, "from and body are required")
        before = len(simulator.sent_messages())
        message, result = send_inbound_sms(simulator.engine, _app_base(simulator, data) + "/twilio/sms",
                                           data["from"], data.get("to") or simulator.number, data["body"])
        replies = [m.body for m in simulator.sent_messages()[before:] if m.to == data["from"]]
        return jsonify({"sid": message.sid, "replies": replies, "error": result.error_code})

    @bp.get("/messages")
    def messages() -> Response:
        return jsonify([m.to_json() for m in simulator.sent_messages()])

    return bp


def _app_base(simulator: Simulator, data: dict[str, Any]) -> str:
    base = data.get("app") or simulator.app_base_url
    if not base:
        abort(400, "app is required: the simulator does not know the app's URL")
    return str(base).rstrip("/")
