"""Schema for story clusters (term statistics, stories, their term index, members).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "story_terms",
        sa.Column("term", sa.String(), nullable=False),
        sa.Column("df", sa.Integer(), nullable=False),
        sa.Column("postings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_story_terms")),
    )
    op.create_table(
        "story_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story_counts")),
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vector", JSON, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("first_at", UTC_DATETIME, nullable=True),
        sa.Column("last_at", UTC_DATETIME, nullable=True),
        sa.Column("touched", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stories")),
    )
    op.create_table(
        "story_postings",
        sa.Column("term", sa.String(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("first_at", UTC_DATETIME, nullable=True),
        sa.Column("last_at", UTC_DATETIME, nullable=True),
        sa.Column("touched", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name=op.f("fk_story_postings_story_id_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("term", "story_id", name=op.f("pk_story_postings")),
    )
    op.create_index(
        "ix_story_postings_term_touched", "story_postings", ["term", "touched"], unique=False
    )
    op.create_index(
        op.f("ix_story_postings_story_id"), "story_postings", ["story_id"], unique=False
    )
    op.create_table(
        "story_copies",
        sa.Column("copy_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name=op.f("fk_story_copies_story_id_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("copy_id", name=op.f("pk_story_copies")),
    )
    op.create_table(
        "story_members",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name=op.f("fk_story_members_story_id_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_story_members")),
    )
    op.create_index(op.f("ix_story_members_story_id"), "story_members", ["story_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_story_members_story_id"), table_name="story_members")
    op.drop_table("story_members")
    op.drop_table("story_copies")
    op.drop_index(op.f("ix_story_postings_story_id"), table_name="story_postings")
    op.drop_index("ix_story_postings_term_touched", table_name="story_postings")
    op.drop_table("story_postings")
    op.drop_table("stories")
    op.drop_table("story_counts")
    op.drop_table("story_terms")
