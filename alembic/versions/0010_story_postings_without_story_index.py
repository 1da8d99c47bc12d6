"""Drop the story-id index of ``story_postings``: postings are deleted by their key.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

The index served one query: deleting a story's postings before listing it again.
Trimming long postings lists deletes as many rows as a batch adds, and each of
those rows' index entries sat under an old story id, so on a large corpus the index
alone took about 1,300 rewritten pages per batch of 200 (benchmarks/dedup_scale.py
at 200,000 documents). A story's postings are its top terms at its last write,
keyed by its span then, both of which the stored story still holds, so they are
deleted through the primary key instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_story_postings_story_id", table_name="story_postings")


def downgrade() -> None:
    op.create_index("ix_story_postings_story_id", "story_postings", ["story_id"], unique=False)
