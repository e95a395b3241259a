"""ix_queue_entries_waiting_since: a partial index of the callers waiting now

Revision ID: 0004_queue_entries_waiting_since
Revises: 0003_callback_places
Create Date: 2026-12-02 18:00:00

`/metrics` counts the callers waiting in each queue and the longest wait at every scrape. The
existing `ix_queue_entries_waiting` leads with the queue, so counting every queue's waiting callers
would read the whole table of past entries; this index holds only the rows waiting now.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_queue_entries_waiting_since"
down_revision: str | None = "0003_callback_places"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WAITING_SQL = "state = 'waiting'"


def upgrade() -> None:
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_entries_waiting_since",
            ["queue_id", "enqueued_at"],
            unique=False,
            sqlite_where=sa.text(_WAITING_SQL),
            postgresql_where=sa.text(_WAITING_SQL),
        )


def downgrade() -> None:
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_entries_waiting_since")
