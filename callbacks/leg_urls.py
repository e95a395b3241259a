"""The webhook URLs a callback's call legs talk to, as the composition root hands them in.

The callbacks place legs and steer them, but the webhooks own the URLs: `terugbel/wiring.py` puts
the paths the webhooks serve on the runtime (`runtime.callback_urls`), and the steps here make full
URLs of them for Twilio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from terugbel.runtime import Runtime


@dataclass(frozen=True)
class CallbackLegUrls:
    """Paths (no host, no query) the webhooks serve for a callback's two legs."""

    agent_whisper: str  # the agent hears who calls about what, and chooses
    agent_released: str  # a waiting agent hears the caller was not reached
    caller_answer: str  # the caller's leg asks what to do (hold, connect, voicemail)
    caller_amd: str  # answering-machine detection's verdict
    leg_status: str  # the status callbacks of both legs


def leg_urls(runtime: Runtime) -> CallbackLegUrls:
    """The runtime's callback leg paths; the composition root must have handed them in."""
    urls = runtime.callback_urls
    if not isinstance(urls, CallbackLegUrls):
        raise RuntimeError("the runtime has no callback leg URLs: wire it first (terugbel/wiring.py)")
    return urls


def leg_url(runtime: Runtime, path: str, **params: object) -> str:
    """The full URL of `path` with the query `params`, as Twilio reaches it."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return runtime.url(f"{path}?{query}")
