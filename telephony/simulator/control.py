"""The simulator's own control API (not Twilio's): lets `terugbel simulate` run a call inside a running
simulator, so the app's REST requests about that call (redirect, hang up) reach the network that has it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, abort, jsonify, request

from telephony.simulator.parties import Party, parties_from_data, reply_from_data
from telephony.simulator.sms import send_inbound_sms

if TYPE_CHECKING:
    from telephony.simulator.facade import Simulator

CONTROL_PREFIX = "/_simulator"


def control_blueprint(simulator: Simulator) -> Blueprint:
    bp = Blueprint("simulator_control", __name__, url_prefix=CONTROL_PREFIX)

    @bp.get("/health")
    def health() -> Response:
        return jsonify({"ok": True, "number": simulator.number, "manual_time": simulator.manual_time})

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
            script = Party(number=from_, role="caller", replies=replies, hang_up_after=data.get("hang_up_after"))
        transcript = simulator.place_inbound_call(from_, data.get("to"), data.get("app"), script,
                                                  max_seconds=float(data.get("max_seconds", 3600)))
        return jsonify(transcript.to_dict())

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
