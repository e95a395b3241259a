"""What the simulated network remembers: calls, messages, their logs, and Twilio-shaped JSON for them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime

from telephony.call_status import FINAL_CALL_STATUSES
from telephony.simulator.transcript import CallTranscript

API_VERSION = "2010-04-01"
SIMULATOR_NOTE = 0  # log entries of the simulator itself, not Twilio error codes


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's date format in REST answers: 'Mon, 23 Nov 2026 08:00:00 +0000'."""
    return format_datetime(moment) if moment is not None else None


@dataclass
class LogEntry:
    """One line of a call's debugger log: Twilio error or warning code and what happened."""

    at: datetime
    code: int
    level: str  # "error" or "warning"
    message: str
    url: str | None = None


@dataclass
class SimCall:
    sid: str
    account_sid: str
    from_: str
    to: str
    direction: str  # inbound, outbound-api, outbound-dial
    date_created: datetime
    status: str = "queued"
    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    fallback_url: str | None = None
    fallback_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: tuple[str, ...] = ("completed",)
    machine_detection: str | None = None
    async_amd: bool = False
    async_amd_status_callback: str | None = None
    timeout_seconds: int = 60
    time_limit_seconds: int = 14400
    send_digits: str | None = None
    parent_call_sid: str | None = None
    start_at: datetime | None = None  # when the CPS queue lets the call start
    start_time: datetime | None = None
    answer_time: datetime | None = None
    end_time: datetime | None = None
    answered_by: str | None = None
    date_updated: datetime | None = None
    queue_time_seconds: int = 0
    log: list[LogEntry] = field(default_factory=list)
    transcript: CallTranscript | None = None
    sequence_number: int = 0
    # Set by the REST API while the engine runs the call; the engine picks it up at the next step.
    pending_update: dict[str, str] | None = None
    failed_with: int | None = None  # the Twilio error code that ended the call, if any

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_CALL_STATUSES

    @property
    def duration_seconds(self) -> int | None:
        if self.answer_time is None or self.end_time is None:
            return 0 if self.end_time is not None else None
        return int((self.end_time - self.answer_time).total_seconds())

    def to_json(self) -> dict[str, object]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"
        base = uri[: -len(".json")]
        duration = self.duration_seconds
        return {
            "sid": self.sid,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated or self.date_created),
            "parent_call_sid": self.parent_call_sid,
            "account_sid": self.account_sid,
            "to": self.to,
            "to_formatted": self.to,
            "from": self.from_,
            "from_formatted": self.from_,
            "phone_number_sid": None,
            "status": self.status,
            "start_time": rfc2822(self.start_time),
            "end_time": rfc2822(self.end_time),
            "duration": str(duration) if duration is not None else None,
            "price": None,
            "price_unit": "USD",
            "direction": self.direction,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": str(self.queue_time_seconds),
            "trunk_sid": None,
            "uri": uri,
            "subresource_uris": {
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
                "payments": f"{base}/Payments.json",
                "events": f"{base}/Events.json",
                "siprec": f"{base}/Siprec.json",
                "streams": f"{base}/Streams.json",
                "transcriptions": f"{base}/Transcriptions.json",
                "user_defined_message_subscriptions": f"{base}/UserDefinedMessageSubscriptions.json",
                "user_defined_messages": f"{base}/UserDefinedMessages.json",
            },
        }


@dataclass
class SimMessage:
    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    direction: str  # outbound-api, outbound-reply, inbound
    date_created: datetime
    status: str = "queued"
    status_callback: str | None = None
    date_sent: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None
    call_sid: str | None = None  # sent by a <Sms> verb during this call

    @property
    def num_segments(self) -> int:
        # GSM-7 fits 160 characters in one segment, 153 per segment when split; UCS-2 70 / 67.
        gsm = all(ord(ch) < 128 for ch in self.body)
        single, multi = (160, 153) if gsm else (70, 67)
        length = len(self.body)
        return 1 if length <= single else -(-length // multi)

    def to_json(self) -> dict[str, object]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "body": self.body,
            "num_segments": str(self.num_segments),
            "direction": self.direction,
            "from": self.from_,
            "to": self.to,
            "date_updated": rfc2822(self.date_sent or self.date_created),
            "price": None,
            "error_message": self.error_message,
            "uri": uri,
            "account_sid": self.account_sid,
            "num_media": "0",
            "status": self.status,
            "messaging_service_sid": None,
            "sid": self.sid,
            "date_sent": rfc2822(self.date_sent),
            "date_created": rfc2822(self.date_created),
            "error_code": self.error_code,
            "price_unit": "USD",
            "api_version": API_VERSION,
            "subresource_uris": {
                "media": uri[: -len(".json")] + "/Media.json",
                "feedback": uri[: -len(".json")] + "/Feedback.json",
            },
        }
