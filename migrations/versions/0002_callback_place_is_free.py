"""callback_place_is_free: whether a slot's place is free, as of the moment it is asked (PostgreSQL)

Revision ID: 0002_callback_place_is_free
Revises: 0001_initial
Create Date: 2026-11-23 02:40:00

A booking claims a place with a try-lock inside a statement whose snapshot is taken before the
lock: a booking that held the place and committed in between is invisible to that snapshot. A
VOLATILE function takes a fresh snapshot for each query it runs, so asked right after the lock it
sees that commit (callbacks/service.py, _CLAIM_FIRST_FREE). SQLite has no functions of this kind
and needs none: every writer holds the database's write lock.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_callback_place_is_free"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION callback_place_is_free(wanted_slot integer, wanted_place integer) RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            RETURN NOT EXISTS (
                SELECT 1 FROM callback_promises WHERE slot_id = wanted_slot AND place = wanted_place
            );
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION callback_place_is_free(integer, integer)")
