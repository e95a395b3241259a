"""Signed Twilio webhook requests for the Flask test client, and TwiML parsed with ElementTree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from twilio.request_validator import RequestValidator

from telephony.signing import SIGNATURE_HEADER

BASE = "http://localhost"


def signed_post(client: Any, token: str | None, path: str, params: dict[str, str], *, base: str = BASE) -> Any:
    """POST `params` to `path` with the signature Twilio would send."""
    assert token, "the test settings have a Twilio auth token"
    signature = RequestValidator(token).compute_signature(base + path, params)
    return client.post(path, data=params, headers={SIGNATURE_HEADER: signature})


def twiml(response: Any) -> ET.Element:
    """The response parsed as TwiML: a <Response> root, or the test fails."""
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/xml")
    root = ET.fromstring(response.data)
    assert root.tag == "Response"
    return root


def spoken(root: ET.Element) -> str:
    return " ".join((say.text or "") for say in root.iter("Say"))
