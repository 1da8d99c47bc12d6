"""Schema for copy clusters: MinHash signatures, the LSH band index, copy clusters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Adds ``copy_clusters``, ``copy_members`` (a document's signature and cluster) and
``copy_bands`` (band key -> document, a WITHOUT ROWID table on SQLite whose primary key
is the lookup index); see ``storage.copies``. Only new tables, so no batch copy of
``documents``. Documents stored before this revision get their clusters from the copy
stage's catch-up when newsingest next starts (``CopyStage.catch_up``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "copy_clusters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("representative_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["representative_id"], ["documents.id"],
            name=op.f("fk_copy_clusters_representative_id_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copy_clusters")),
    )
    op.create_table(
        "copy_members",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("shingles", sa.Integer(), nullable=False),
        sa.Column("published_at", UTC_DATETIME, nullable=True),
        sa.Column("text_chars", sa.Integer(), nullable=False),
        sa.Column("fingerprinted_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"], ["copy_clusters.id"],
            name=op.f("fk_copy_members_cluster_id_copy_clusters"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"],
            name=op.f("fk_copy_members_document_id_documents"),
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_copy_members")),
    )
    op.create_index(
        op.f("ix_copy_members_cluster_id"), "copy_members", ["cluster_id"], unique=False
    )
    op.create_index(
        op.f("ix_copy_members_content_hash"), "copy_members", ["content_hash"], unique=False
    )
    op.create_table(
        "copy_bands",
        sa.Column("band_key", sa.BigInteger(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("band_key", "document_id", name=op.f("pk_copy_bands")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("copy_bands")
    op.drop_index(op.f("ix_copy_members_content_hash"), table_name="copy_members")
    op.drop_index(op.f("ix_copy_members_cluster_id"), table_name="copy_members")
    op.drop_table("copy_members")
    op.drop_table("copy_clusters")
