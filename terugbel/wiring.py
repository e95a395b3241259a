"""What the composition root hands the domain: the edge's URLs and the step a due dial job runs.

The web app, the worker and the tests wire their runtime here before the domain uses it: the domain
never imports the webhooks (which own the URLs), nor does the dial job's schedule import the step
the job runs (which schedules dial jobs again).
"""

from __future__ import annotations

from callbacks.agent_leg import start_attempt
from callbacks.waiting_callbacks import callback_waits_for, serve_waiting_callback
from terugbel.runtime import Runtime, WebhookUrls
from webhooks import callback_legs, voice

WEBHOOK_URLS = WebhookUrls(
    queue_connect=voice.QUEUE_CONNECT,
    agent_whisper=callback_legs.PREFIX + callback_legs.AGENT_WHISPER,
    agent_released=callback_legs.PREFIX + callback_legs.AGENT_RELEASED,
    caller_answer=callback_legs.PREFIX + callback_legs.CALLER_ANSWER,
    caller_amd=callback_legs.PREFIX + callback_legs.CALLER_AMD,
    leg_status=callback_legs.PREFIX + callback_legs.LEG_STATUS,
)


def wire(runtime: Runtime) -> Runtime:
    """Hand the runtime the webhook URLs, the step a due dial job runs, and callbacks' claim on a free agent."""
    runtime.urls = WEBHOOK_URLS
    runtime.start_dial = start_attempt
    runtime.serve_waiting_callback = serve_waiting_callback
    runtime.callback_waits_for = callback_waits_for
    return runtime
