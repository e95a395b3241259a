"""ix_sms_messages_promise_id: a promise's texts found without reading every text

Revision ID: 0008_sms_messages_promise_id
Revises: 0007_promise_priority_resolved
Create Date: 2026-12-04 18:30:00

The reconciler asks, every pass, whether a missed promise has been told (callbacks/missed.py), and
deleting or erasing a promise sets its texts' promise_id to NULL: both read the texts of one
promise, which without this index means every text ever sent.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_sms_messages_promise_id"
down_revision: str | None = "0007_promise_priority_resolved"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sms_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_messages_promise_id"), ["promise_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_messages_promise_id"))
