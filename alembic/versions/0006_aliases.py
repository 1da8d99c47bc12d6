"""URL aliases and backfill progress.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

``url_aliases`` maps every URL variant met for a document (the listed URL, the
redirect target, rel=canonical / og:url) to it (``storage.aliases``);
``backfill_progress`` keeps how far each URL list has been worked through
(``storage.backfill``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "url_aliases",
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"],
            name=op.f("fk_url_aliases_document_id_documents"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_url_aliases")),
    )
    op.create_index(
        op.f("ix_url_aliases_document_id"), "url_aliases", ["document_id"], unique=False
    )
    op.create_table(
        "backfill_progress",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("lines_done", sa.Integer(), nullable=False),
        sa.Column("bad_lines", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_backfill_progress")),
    )


def downgrade() -> None:
    op.drop_table("backfill_progress")
    op.drop_index(op.f("ix_url_aliases_document_id"), table_name="url_aliases")
    op.drop_table("url_aliases")
