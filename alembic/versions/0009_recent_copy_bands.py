"""A small table for new LSH band keys, merged into ``copy_bands`` in key order.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

Band keys are random, so once ``copy_bands`` outgrew the page cache every batch's
inserts rewrote thousands of its pages and the copy stage slowed as the corpus grew.
New keys now go to ``copy_bands_recent`` (same shape), which ``copy_index_state``
counts; past a limit they move into ``copy_bands`` in one sorted pass. Existing keys
stay where they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "copy_bands_recent",
        sa.Column("band_key", sa.BigInteger(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("band_key", "document_id", name=op.f("pk_copy_bands_recent")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "copy_index_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recent_rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copy_index_state")),
    )


def downgrade() -> None:
    # The recent keys are still needed: they go into the one table that remains.
    op.execute(
        "INSERT INTO copy_bands (band_key, document_id) "
        "SELECT band_key, document_id FROM copy_bands_recent WHERE true "
        "ON CONFLICT DO NOTHING"
    )
    op.drop_table("copy_index_state")
    op.drop_table("copy_bands_recent")
