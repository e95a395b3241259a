"""callback_places: one row per place of a slot; drop callback_place_is_free

Revision ID: 0003_callback_places
Revises: 0002_callback_place_is_free
Create Date: 2026-12-02 13:30:00

A booking now claims a place by locking its row (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and
writing its promise id into it; the row lock sees a commit made after the statement began, so the
fresh-snapshot function of 0002 is no longer needed. Existing slots get a row for each place below
their capacity and for each place a promise holds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_callback_places"
down_revision: str | None = "0002_callback_place_is_free"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    places = op.create_table(
        "callback_places",
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.Integer(), nullable=False),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["promise_id"],
            ["callback_promises.id"],
            name=op.f("fk_callback_places_promise_id_callback_promises"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["callback_slots.id"],
            name=op.f("fk_callback_places_slot_id_callback_slots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("slot_id", "place", name=op.f("pk_callback_places")),
        sa.UniqueConstraint("promise_id", name=op.f("uq_callback_places_promise_id")),
    )
    bind = op.get_bind()
    held: dict[tuple[int, int], int] = {
        (slot_id, place): promise_id
        for slot_id, place, promise_id in bind.execute(
            sa.text("SELECT slot_id, place, id FROM callback_promises WHERE slot_id IS NOT NULL AND place IS NOT NULL")
        )
    }
    rows = {
        (slot_id, place): {"slot_id": slot_id, "place": place, "promise_id": held.get((slot_id, place))}
        for slot_id, capacity in bind.execute(sa.text("SELECT id, capacity FROM callback_slots"))
        for place in range(capacity)
    }
    for (slot_id, place), promise_id in held.items():
        rows.setdefault((slot_id, place), {"slot_id": slot_id, "place": place, "promise_id": promise_id})
    if rows:
        op.bulk_insert(places, list(rows.values()))
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION callback_place_is_free(integer, integer)")


def downgrade() -> None:
    op.drop_table("callback_places")
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
