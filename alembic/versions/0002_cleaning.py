"""Schema for the cleaning stage: the raw extraction, learned per-host boilerplate.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

``documents.raw_text`` keeps the extraction before cleaning, so cleaning can be re-run
and explained; rows stored before this revision get their text as raw text, the best
there is. The ``boilerplate_*`` tables count paragraphs per host (see
``storage.boilerplate``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("raw_text", sa.Text(), nullable=True))
    op.execute("UPDATE documents SET raw_text = text WHERE status = 'ok' AND raw_text IS NULL")

    op.create_table(
        "boilerplate_hosts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boilerplate_hosts")),
        sa.UniqueConstraint("host", name=op.f("uq_boilerplate_hosts_host")),
    )
    op.create_table(
        "boilerplate_paragraphs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.BigInteger(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("known_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["host_id"], ["boilerplate_hosts.id"],
            name=op.f("fk_boilerplate_paragraphs_host_id_boilerplate_hosts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boilerplate_paragraphs")),
        sa.UniqueConstraint(
            "host_id", "hash", name=op.f("uq_boilerplate_paragraphs_host_id_hash")
        ),
    )
    op.create_table(
        "boilerplate_occurrences",
        sa.Column("paragraph_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("content_key", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"],
            name=op.f("fk_boilerplate_occurrences_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paragraph_id"], ["boilerplate_paragraphs.id"],
            name=op.f("fk_boilerplate_occurrences_paragraph_id_boilerplate_paragraphs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "paragraph_id", "document_id", name=op.f("pk_boilerplate_occurrences")
        ),
    )
    op.create_index(
        "ix_boilerplate_occurrences_document_id", "boilerplate_occurrences", ["document_id"]
    )
    op.create_table(
        "boilerplate_documents",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("raw_hash", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"],
            name=op.f("fk_boilerplate_documents_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["boilerplate_hosts.id"],
            name=op.f("fk_boilerplate_documents_host_id_boilerplate_hosts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_boilerplate_documents")),
    )


def downgrade() -> None:
    op.drop_table("boilerplate_documents")
    op.drop_index("ix_boilerplate_occurrences_document_id", table_name="boilerplate_occurrences")
    op.drop_table("boilerplate_occurrences")
    op.drop_table("boilerplate_paragraphs")
    op.drop_table("boilerplate_hosts")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("raw_text")
