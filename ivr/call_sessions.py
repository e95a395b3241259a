"""A call's session: found by its CallSid, its flow state read and stored.

The CallSession row holds the voice menu's state (ivr/flow_types.FlowState) between webhooks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.flow_types import FlowState
from ivr.models import CallSession


class CallNotFound(LookupError):
    """No call session for this CallSid: the request belongs to no call we answered."""


def find_call(session: Session, call_sid: str, *, lock: bool = False) -> CallSession | None:
    """Return the session of the call, or None when we never answered it."""
    query = select(CallSession).where(CallSession.call_sid == call_sid)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def require_call(session: Session, call_sid: str) -> CallSession:
    """Return the session of the call; raise CallNotFound when there is none."""
    call = find_call(session, call_sid)
    if call is None:
        raise CallNotFound(call_sid)
    return call


def flow_state_of(call: CallSession) -> FlowState:
    """Return the menu's state as the call's session keeps it."""
    return FlowState.from_data(call.data.get("flow"), call.language)


def store_flow_state(call: CallSession, state: FlowState, now: datetime) -> None:
    """Keep the menu's state on the call's session."""
    call.data = {**(call.data or {}), "flow": state.to_data()}
    call.step = state.step
    call.language = state.language
    call.updated_at = now


def call_language(call: CallSession | None) -> str:
    """The language the call is held in (Dutch when there is no session)."""
    return call.language if call else "nl"
