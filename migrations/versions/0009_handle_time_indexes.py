"""indexes for a queue's average handle time: its latest handled contacts and their queue entries

Revision ID: 0009_handle_time_indexes
Revises: 0008_sms_messages_promise_id
Create Date: 2026-12-04 19:00:00

Routing, callback capacity and offers measure a queue's handle time over its latest 50 contacts
handled by an agent, each with the queue entry that connected it (routing/handle_time.py). Without
these indexes that read every contact of the day and, for each of the 50, every queue entry: by
the afternoon of the day benchmark it took a second, inside bookings and offers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_handle_time_indexes"
down_revision: str | None = "0008_sms_messages_promise_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_queue_outcome_ended", ["queue_id", "outcome", "ended_at"], unique=False)
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_entries_contact_id"), ["contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_entries_contact_id"))
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_queue_outcome_ended")
