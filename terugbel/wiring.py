"""What the composition root hands the domain: the edge's URLs and the step a due dial job runs.

The web app, the worker and the tests wire their runtime here before the domain uses it: the
callbacks never import the webhooks (which know the URLs), nor does the dial job's schedule import
the step the job runs (which schedules dial jobs again).
"""

from __future__ import annotations

from callbacks.agent_leg import start_attempt
from terugbel.runtime import Runtime
from webhooks.callback_legs import CALLBACK_LEG_URLS


def wire(runtime: Runtime) -> Runtime:
    """Hand the runtime the callback legs' webhook URLs and the step a due dial job runs."""
    runtime.callback_urls = CALLBACK_LEG_URLS
    runtime.start_dial = start_attempt
    return runtime
