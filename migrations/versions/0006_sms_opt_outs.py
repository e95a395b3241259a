"""sms_opt_outs: the numbers that texted STOP

Revision ID: 0006_sms_opt_outs
Revises: 0005_agent_language
Create Date: 2026-12-03 08:30:00

Twilio and the carriers refuse texts to a number that texted STOP (error 21610) until it texts
START. The product keeps the same fact so it stops sending and says the time on the phone instead.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import terugbel.db

revision: str = "0006_sms_opt_outs"
down_revision: str | None = "0005_agent_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_opt_outs",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("keyword", sa.String(length=16), nullable=False),
        sa.Column("opted_out_at", terugbel.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_sms_opt_outs")),
    )


def downgrade() -> None:
    op.drop_table("sms_opt_outs")
