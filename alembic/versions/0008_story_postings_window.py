"""Story postings keyed by term and time, so a window is an index range.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

``story_postings`` kept the story's time bounds as plain columns beside an index on
(term, touched): a lookup read every listed story of a term and filtered the window
row by row, so its cost grew until each list reached its cap. The new table's key is
(term, last_key, story_id), the bounds as integer microseconds since 1970 (an undated
story spans all time), and on SQLite the table is WITHOUT ROWID: the stories of a term
active in a window are one contiguous range. The rows are carried over.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
UNDATED_FIRST = -(2**62)
UNDATED_LAST = 2**62
CHUNK = 10_000

OLD = sa.table(
    "story_postings_old",
    sa.column("term", sa.String()),
    sa.column("story_id", sa.Integer()),
    sa.column("first_at", UTC_DATETIME),
    sa.column("last_at", UTC_DATETIME),
    sa.column("touched", sa.Integer()),
)
NEW = sa.table(
    "story_postings_new",
    sa.column("term", sa.String()),
    sa.column("last_key", sa.BigInteger()),
    sa.column("story_id", sa.Integer()),
    sa.column("first_key", sa.BigInteger()),
    sa.column("touched", sa.Integer()),
)


def _key(when: datetime | None, undated: int) -> int:
    if when is None:
        return undated
    if when.tzinfo is None:  # SQLite hands back the stored UTC time without its zone
        when = when.replace(tzinfo=UTC)
    return (when - EPOCH) // MICROSECOND


def _when(key: int) -> datetime | None:
    return None if key in (UNDATED_FIRST, UNDATED_LAST) else EPOCH + key * MICROSECOND


def _pages(table: Any, *key: str) -> Iterator[list[Any]]:
    """The rows of ``table`` in pages of ``CHUNK``, in ``key`` order: memory stays flat."""
    bind = op.get_bind()
    columns = [table.c[k] for k in key]
    after: tuple[Any, ...] | None = None
    while True:
        query = sa.select(table).order_by(*columns).limit(CHUNK)
        if after is not None:
            query = query.where(sa.tuple_(*columns) > sa.tuple_(*after))
        page = bind.execute(query).all()
        if not page:
            return
        yield page
        after = tuple(getattr(page[-1], k) for k in key)


def _rename_primary_key(table: str, old: str, new: str) -> None:
    """PostgreSQL names a primary key's index in the schema, so two tables cannot both
    have ``pk_story_postings`` while one replaces the other; SQLite has no such names."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")


def _story_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["story_id"], ["stories.id"], name=f"fk_{table}_story_id_stories", ondelete="CASCADE"
    )


def _drop_indexes(names: Sequence[str]) -> None:
    for name in names:
        op.drop_index(name, table_name="story_postings")


def upgrade() -> None:
    _drop_indexes(["ix_story_postings_term_touched", "ix_story_postings_story_id"])
    op.rename_table("story_postings", "story_postings_old")
    _rename_primary_key("story_postings_old", "pk_story_postings", "pk_story_postings_old")
    op.create_table(
        "story_postings_new",
        sa.Column("term", sa.String(), nullable=False),
        sa.Column("last_key", sa.BigInteger(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("first_key", sa.BigInteger(), nullable=False),
        sa.Column("touched", sa.Integer(), nullable=False),
        _story_fk("story_postings"),
        sa.PrimaryKeyConstraint("term", "last_key", "story_id", name="pk_story_postings"),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    for chunk in _pages(OLD, "term", "story_id"):
        bind.execute(
            NEW.insert(),
            [
                {
                    "term": r.term,
                    "last_key": _key(r.last_at, UNDATED_LAST),
                    "story_id": r.story_id,
                    "first_key": _key(r.first_at, UNDATED_FIRST),
                    "touched": r.touched,
                }
                for r in chunk
            ],
        )
    op.drop_table("story_postings_old")
    op.rename_table("story_postings_new", "story_postings")
    op.create_index("ix_story_postings_story_id", "story_postings", ["story_id"], unique=False)


def downgrade() -> None:
    _drop_indexes(["ix_story_postings_story_id"])
    op.rename_table("story_postings", "story_postings_new")
    _rename_primary_key("story_postings_new", "pk_story_postings", "pk_story_postings_new")
    op.create_table(
        "story_postings_old",
        sa.Column("term", sa.String(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("first_at", UTC_DATETIME, nullable=True),
        sa.Column("last_at", UTC_DATETIME, nullable=True),
        sa.Column("touched", sa.Integer(), nullable=False),
        _story_fk("story_postings"),
        sa.PrimaryKeyConstraint("term", "story_id", name="pk_story_postings"),
    )
    bind = op.get_bind()
    for chunk in _pages(NEW, "term", "last_key", "story_id"):
        bind.execute(
            OLD.insert(),
            [
                {
                    "term": r.term,
                    "story_id": r.story_id,
                    "first_at": _when(r.first_key),
                    "last_at": _when(r.last_key),
                    "touched": r.touched,
                }
                for r in chunk
            ],
        )
    op.drop_table("story_postings_new")
    op.rename_table("story_postings_old", "story_postings")
    op.create_index(
        "ix_story_postings_term_touched", "story_postings", ["term", "touched"], unique=False
    )
    op.create_index("ix_story_postings_story_id", "story_postings", ["story_id"], unique=False)
