"""Text messages on the simulated network: status callbacks for sent ones, inbound ones to the app."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from telephony.simulator.callrun import country_of
from telephony.simulator.records import API_VERSION, SimMessage, new_sid
from telephony.simulator.scheduler import Process, sleep
from telephony.simulator.webhook import WebhookResult

if TYPE_CHECKING:
    from telephony.simulator.engine import Engine

# Seconds after creation at which an outbound message reaches each status.
DELIVERY_STEPS = (("sent", 1.0), ("delivered", 2.0))


def deliver(engine: Engine, message: SimMessage) -> Process:
    """Move a queued message to sent and delivered (or undelivered), telling its StatusCallback each time."""
    error_code = engine.network.undeliverable.get(message.to)
    elapsed = 0.0
    for status, at in DELIVERY_STEPS:
        yield from sleep(at - elapsed)
        elapsed = at
        if status == "delivered" and error_code is not None:
            status = "undelivered"
            message.error_code, message.error_message = error_code, "Unreachable destination handset"
        message.status = status
        if status == "sent":
            message.date_sent = engine.clock.now()
        if message.status_callback:
            params = {
                "AccountSid": message.account_sid, "ApiVersion": API_VERSION, "From": message.from_,
                "To": message.to, "MessageSid": message.sid, "SmsSid": message.sid,
                "MessageStatus": status, "SmsStatus": status,
            }
            if message.error_code is not None:
                params["ErrorCode"] = str(message.error_code)
            engine.webhooks.request(message.status_callback, params)


def watch_messages(engine: Engine) -> None:
    """Schedule delivery for every message the REST API or a <Sms> verb creates."""

    def on_message(message: SimMessage) -> None:
        if message.direction != "inbound":
            engine.network.scheduler.spawn(deliver(engine, message), name=f"sms-{message.sid}")

    engine.network.on_message = on_message


def send_inbound_sms(engine: Engine, url: str, from_: str, to: str, body: str) -> tuple[SimMessage, WebhookResult]:
    """POST an incoming text to the app like Twilio does; replies in its TwiML are sent."""
    network = engine.network
    message = SimMessage(sid=new_sid("SM"), account_sid=network.account_sid, from_=from_, to=to, body=body,
                         direction="inbound", date_created=engine.clock.now(), status="received")
    network.add_message(message)
    if body.strip().upper() in {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}:
        network.blocked_numbers.add(from_)  # Twilio's opt-out: later sends answer 21610
    if body.strip().upper() in {"START", "YES", "UNSTOP"}:
        network.blocked_numbers.discard(from_)
    params = {
        "MessageSid": message.sid, "SmsSid": message.sid, "SmsMessageSid": message.sid,
        "AccountSid": network.account_sid, "From": from_, "To": to, "Body": body,
        "NumSegments": str(message.num_segments), "NumMedia": "0", "SmsStatus": "received",
        "ApiVersion": API_VERSION, "FromCountry": country_of(from_), "ToCountry": country_of(to),
    }
    result = engine.webhooks.request(url, params)
    if result.ok and result.body.strip():
        for reply in _replies(result.body):
            network.add_message(SimMessage(
                sid=new_sid("SM"), account_sid=network.account_sid, from_=to, to=from_, body=reply,
                direction="outbound-reply", date_created=engine.clock.now(), status="queued"))
    return message, result


def _replies(body: str) -> list[str]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    texts = []
    for element in root.iter("Message"):
        inner = element.find("Body")
        texts.append(((inner.text if inner is not None else element.text) or "").strip())
    return [text for text in texts if text]
