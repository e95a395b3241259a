"""RQ jobs: module-level functions that take ids, open their own session, and are safe to run twice.

Each asks `current_runtime()` for the database, Redis, clock and telephony of this worker process.
Their guards live in the services they call (callbacks/dialling.py, callbacks/outbox.py): a job
that finds the promise or attempt not in the state it expects does nothing.
"""

from __future__ import annotations

from callbacks import dialling, dispatch, outbox
from terugbel.runtime import current_runtime


def dial_promise(promise_id: int, attempt: int) -> str:
    """Start attempt `attempt` of a promise that is due: reserve an agent and ring them."""
    return dialling.start_attempt(current_runtime(), promise_id, attempt)


def ring_agent(attempt_id: int, failures: int = 0) -> str:
    """Ring the next available agent for an attempt (after a pass, no answer, or a network refusal)."""
    return dialling.ring_next_agent(current_runtime(), attempt_id, failures)


def dial_caller(attempt_id: int, failures: int = 0) -> str:
    """Place the caller's leg of an attempt the agent accepted."""
    return dialling.dial_caller(current_runtime(), attempt_id, failures)


def reconcile() -> dict[str, int]:
    """Bring the dial and SMS jobs in Redis in line with the promises and messages in the database."""
    report = dispatch.reconcile(current_runtime())
    return {
        "scheduled": len(report.scheduled),
        "removed": len(report.removed),
        "recovered": len(report.recovered),
        "sms": len(report.sms),
    }


def send_sms(message_id: int) -> str:
    """Send one queued SMS, unless it was sent already."""
    return outbox.send_queued_sms(current_runtime(), message_id)
