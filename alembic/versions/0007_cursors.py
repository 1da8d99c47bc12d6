"""Named export cursors and the documents' change positions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

``export_cursors`` keeps each consumer's position in the stream of document changes;
``change_counter`` hands out change numbers in commit order and ``documents.change_seq``
holds each document's latest one (``storage.cursors`` explains why). Documents stored
before this revision all get change number 0, so a first read returns them by id.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "export_cursors",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_export_cursors")),
    )
    op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_counter")),
    )
    # A constant default: SQLite adds the column in place, PostgreSQL without a rewrite.
    op.add_column(
        "documents",
        sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_index(
        op.f("ix_documents_change_seq_id"), "documents", ["change_seq", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_documents_change_seq_id"), table_name="documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("change_seq")
    op.drop_table("change_counter")
    op.drop_table("export_cursors")
