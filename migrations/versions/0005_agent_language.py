"""agents.language: the language an agent speaks with callers

Revision ID: 0005_agent_language
Revises: 0004_queue_entries_waiting_since
Create Date: 2026-12-03 10:00:00

A center set up through the administration API records the language each agent speaks (Dutch or
English). Agents that exist already speak Dutch: the server default fills their rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_agent_language"
down_revision: str | None = "0004_queue_entries_waiting_since"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=2), server_default="nl", nullable=False))
        batch_op.create_check_constraint(op.f("ck_agents_language"), "language IN ('nl', 'en')")


def downgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_agents_language"), type_="check")
        batch_op.drop_column("language")
