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

from collections.abc import Callable, Iterator, Sequence
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
CHUNK = 10_000  # rows copied at a time


def _keyed_columns() -> list[Any]:
    """This revision's ``story_postings``: bounds as keys, the end one in the key."""
    return [
        sa.Column("term", sa.String(), nullable=False),
        sa.Column("last_key", sa.BigInteger(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("first_key", sa.BigInteger(), nullable=False),
        sa.Column("touched", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", "last_key", "story_id", name="pk_story_postings"),
    ]


def _dated_columns() -> list[Any]:
    """The previous revision's ``story_postings``: bounds as nullable datetimes."""
    return [
        sa.Column("term", sa.String(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("first_at", UTC_DATETIME, nullable=True),
        sa.Column("last_at", UTC_DATETIME, nullable=True),
        sa.Column("touched", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", "story_id", name="pk_story_postings"),
    ]


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
        page = list(bind.execute(query))
        if not page:
            return
        yield page
        after = tuple(getattr(page[-1], k) for k in key)


def _rebuild(
    columns: list[Any],
    convert: Callable[[Any], dict[str, Any]],
    old_key: Sequence[str],
    indexes: Sequence[tuple[str, list[str]]],
    **table_options: Any,
) -> None:
    """Replace ``story_postings`` by a table of ``columns``, each row ``convert``-ed."""
    op.drop_index("ix_story_postings_story_id", table_name="story_postings")
    op.rename_table("story_postings", "story_postings_old")
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL names a primary key's index in the schema, so the old table's must
        # move aside before the new one takes the name; SQLite has no such names.
        op.execute(
            "ALTER TABLE story_postings_old RENAME CONSTRAINT pk_story_postings "
            "TO pk_story_postings_old"
        )
    new = op.create_table(
        "story_postings_new",
        *columns,
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name="fk_story_postings_story_id_stories",
            ondelete="CASCADE",
        ),
        **table_options,
    )
    old = sa.Table("story_postings_old", sa.MetaData(), autoload_with=op.get_bind())
    bind = op.get_bind()
    for page in _pages(old, *old_key):
        bind.execute(new.insert(), [convert(row) for row in page])
    op.drop_table("story_postings_old")
    op.rename_table("story_postings_new", "story_postings")
    for name, indexed in [("ix_story_postings_story_id", ["story_id"]), *indexes]:
        op.create_index(name, "story_postings", indexed, unique=False)


def upgrade() -> None:
    op.drop_index("ix_story_postings_term_touched", table_name="story_postings")
    _rebuild(
        _keyed_columns(),
        lambda r: {
            "term": r.term,
            "last_key": _key(r.last_at, UNDATED_LAST),
            "story_id": r.story_id,
            "first_key": _key(r.first_at, UNDATED_FIRST),
            "touched": r.touched,
        },
        old_key=("term", "story_id"),
        indexes=(),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    _rebuild(
        _dated_columns(),
        lambda r: {
            "term": r.term,
            "story_id": r.story_id,
            "first_at": _when(r.first_key),
            "last_at": _when(r.last_key),
            "touched": r.touched,
        },
        old_key=("term", "last_key", "story_id"),
        indexes=[("ix_story_postings_term_touched", ["term", "touched"])],
    )
