"""The caller's words are cleared after the retention period; outcomes, times and counts stay."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from callbacks.models import CallbackPromise, PromiseState
from ivr.models import CallSession
from privacy.retention import ClearedWords, clear_expired_words, clear_expired_words_job
from routing.models import Contact
from telephony.models import SmsMessage
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime
from tests.integration.dispatch_support import add_promise

NUMBER = "+31687650003"
WORDS = "mijn internet doet het niet sinds de verhuizing"


def _contact_with_call(runtime: Runtime, started: datetime, sid: str) -> None:
    with runtime.db.session() as session:
        contact = Contact(
            channel="call", call_sid=sid, started_at=started, ended_at=started, outcome="agent", transcript=WORDS
        )
        session.add(contact)
        session.flush()
        session.add(
            CallSession(
                call_sid=sid, contact_id=contact.id, number=NUMBER, language="nl", step="done",
                data={"flow": {"words": WORDS, "callback_number": NUMBER}}, answered_at=started, updated_at=started,
            )
        )  # fmt: skip


def _sms(runtime: Runtime, created: datetime, status: str) -> None:
    with runtime.db.session() as session:
        body = f"Terugbel: {WORDS}"
        session.add(SmsMessage(direction="outbound", number=NUMBER, body=body, status=status, created_at=created))


def test_words_older_than_the_retention_are_cleared_and_the_rest_is_kept(
    runtime: Runtime, clock: ManualClock, make_queue: Any
) -> None:
    queue = make_queue("technisch")
    now = clock.now()
    old, recent = now - timedelta(days=91), now - timedelta(days=89)
    _contact_with_call(runtime, old, "CA" + "1" * 32)
    _contact_with_call(runtime, recent, "CA" + "2" * 32)
    add_promise(runtime.db, queue_id=queue.id, number=NUMBER, window_start=old, booked_at=old,
                problem=WORDS, state=PromiseState.COMPLETED.value)  # fmt: skip
    add_promise(runtime.db, queue_id=queue.id, number="+31687650004", window_start=old, booked_at=old,
                problem=WORDS)  # fmt: skip  # still open (never dialled): its words are still needed
    _sms(runtime, old, "sent")
    _sms(runtime, old, "pending")  # not sent yet: the text must go out whole
    _sms(runtime, recent, "sent")

    with runtime.db.session() as session:
        cleared = clear_expired_words(session, now=now, retention_days=90)
    assert cleared == ClearedWords(transcripts=1, call_states=1, problems=1, sms_bodies=1)

    with runtime.db.session() as session:
        assert sorted(session.scalars(select(Contact.transcript)).all(), key=str) == [None, WORDS]
        assert session.scalar(select(func.count()).select_from(Contact).where(Contact.outcome == "agent")) == 2
        states = {s.call_sid: s.data for s in session.scalars(select(CallSession))}
        assert states["CA" + "1" * 32] == {} and states["CA" + "2" * 32]["flow"]["words"] == WORDS
        assert sorted(session.scalars(select(CallbackPromise.problem)).all(), key=str) == [None, WORDS]
        bodies = sorted((m.status, m.created_at < recent, m.body) for m in session.scalars(select(SmsMessage)))
        assert bodies == [("pending", True, f"Terugbel: {WORDS}"), ("sent", False, f"Terugbel: {WORDS}"),
                          ("sent", True, "")]  # fmt: skip

    with runtime.db.session() as session:  # a second run finds nothing left to clear
        assert clear_expired_words(session, now=now, retention_days=90) == ClearedWords(0, 0, 0, 0)


def test_the_job_uses_the_retention_setting_and_the_runtime_clock(runtime: Runtime, clock: ManualClock) -> None:
    runtime.settings = runtime.settings.with_overrides(transcript_retention_days=7)
    _contact_with_call(runtime, clock.now() - timedelta(days=8), "CA" + "3" * 32)
    _contact_with_call(runtime, clock.now() - timedelta(days=6), "CA" + "4" * 32)
    assert clear_expired_words_job() == ClearedWords(transcripts=1, call_states=1, problems=0, sms_bodies=0)
    clock.advance(timedelta(days=2))
    assert clear_expired_words_job().transcripts == 1
