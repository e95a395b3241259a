"""promise priority, the resolved state, and a kept callback's link to the call that booked it

Revision ID: 0007_promise_priority_resolved
Revises: 0006_sms_opt_outs
Create Date: 2026-12-04 09:00:00

A promise keeps the caller's priority, so that a VIP or repeat caller is dialled first when agents
are short. A promise closed because the caller reached an agent another way is `resolved`, no
longer `cancelled`. The contact of a kept callback names the contact that booked it: the two count
as one in first-contact resolution and the repeat rate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_promise_priority_resolved"
down_revision: str | None = "0006_sms_opt_outs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = "'booked', 'dialling', 'connected', 'completed', 'missed', 'cancelled', 'moved', 'failed'"


def upgrade() -> None:
    with op.batch_alter_table("callback_promises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_constraint(batch_op.f("ck_callback_promises_state"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_callback_promises_state"), f"state IN ({_STATES}, 'resolved')")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("continues_contact_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_contacts_continues_contact_id_contacts"),
            "contacts",
            ["continues_contact_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_contacts_continues_contact_id_contacts"), type_="foreignkey")
        batch_op.drop_column("continues_contact_id")
    op.execute("UPDATE callback_promises SET state = 'cancelled' WHERE state = 'resolved'")
    with op.batch_alter_table("callback_promises", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_callback_promises_state"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_callback_promises_state"), f"state IN ({_STATES})")
        batch_op.drop_column("priority")
