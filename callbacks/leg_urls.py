"""Full URLs of the webhooks a callback's call legs talk to.

The callbacks place legs and steer them, but the webhooks own the paths: the composition root puts
them on the runtime (`Runtime.urls`, terugbel/wiring.py), and the steps here make full URLs of them
for Twilio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from terugbel.runtime import Runtime


def leg_url(runtime: Runtime, path: str, **params: object) -> str:
    """The full URL of `path` with the query `params`, as Twilio reaches it."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return runtime.url(f"{path}?{query}")
