"""What an agent records about a contact they handled: resolved or not, and a short note."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from routing.models import Contact
from routing.wrap_up import end_wrap_up
from terugbel.audit import record_audit
from terugbel.validation import ChangeRefused, NotFound

MAX_NOTE_LENGTH = 1000


def record_outcome(
    session: Session, *, contact_id: int, agent_id: int, resolved: bool, note: str, now: datetime
) -> Contact:
    """Record whether the agent's contact was resolved or needs a follow-up, with a short note.

    It ends the agent's wrap-up (routing/wrap_up.py): in a unit of work, the best waiting caller is
    offered to them after commit.
    """
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ChangeRefused("note", f"at most {MAX_NOTE_LENGTH} characters")
    contact = session.get(Contact, contact_id)
    if contact is None or contact.agent_id != agent_id:
        raise NotFound(contact_id)
    contact.resolved = resolved
    contact.outcome_note = note or None
    if contact.ended_at is None:
        contact.ended_at = now
    end_wrap_up(session, agent_id, now)
    record_audit(
        session,
        at=now,
        actor=f"agent:{agent_id}",
        action="contact.outcome",
        subject=f"contact:{contact_id}",
        details={"resolved": resolved},
    )
    return contact
