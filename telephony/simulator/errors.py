"""Twilio's REST error body and the codes the simulated API answers with."""

from __future__ import annotations


class ApiError(Exception):
    """A request Twilio would refuse: HTTP status, Twilio error code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


# Codes the simulator uses (https://www.twilio.com/docs/api/errors).
AUTHENTICATE = 20003
NOT_FOUND = 20404
# Twilio ignores unknown parameters with warning 20001; the simulator refuses them (HTTP 400) so a
# misspelt parameter fails a test instead of silently doing nothing.
UNKNOWN_PARAMETER = 20001
TOO_MANY_REQUESTS = 20429
URL_REQUIRED = 21205
TO_REQUIRED = 21201
FROM_REQUIRED = 21213
INVALID_TO = 21211
INVALID_FROM = 21212
NOT_IN_PROGRESS = 21220
INVALID_STATUS_CALLBACK_EVENT = 21626
INVALID_PARAMETER = 400  # Twilio's generic "Bad Request": a value that did not pass validation
INVALID_METHOD = 21209
INVALID_STATUS_CALLBACK = 21609
MESSAGE_TO_REQUIRED = 21604
MESSAGE_FROM_REQUIRED = 21603
MESSAGE_BODY_REQUIRED = 21602
NOT_MOBILE = 21614
UNSUBSCRIBED = 21610
BODY_TOO_LONG = 21617
