"""The database schema: SQLAlchemy 2 declarative models for sources, polls, documents, runs.

These classes are table definitions for ``storage`` only; ORM objects never leave the
package (``storage.store`` turns rows into the frozen records of ``storage.records``).
Any change here needs an Alembic revision in ``alembic/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit names for every constraint and index, so that a migration can refer to them
# by name and they come out the same on SQLite (which names nothing itself) and
# PostgreSQL (which would invent its own).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A ``DateTime(timezone=True)`` that only takes and always returns tz-aware UTC.

    PostgreSQL keeps the offset (``timestamptz``) but SQLite stores a bare string and
    hands back naive datetimes; converting to UTC on the way in and attaching UTC on
    the way out makes both databases behave the same. Naive datetimes are refused on
    the way in: guessing their zone would silently shift timestamps.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use tz-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers parse for us
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere. Python None is
# stored as SQL NULL, not as the JSON literal 'null', so "IS NULL" means what it says.
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Source(Base):
    """A configured source, kept so documents and runs can refer to it."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String)
    url: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FetchStateRow(Base):
    """Conditional-GET validators and health of polling one source."""

    __tablename__ = "fetch_state"

    source_id: Mapped[str] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Document(Base):
    """One canonical URL: its cleaned article (status ok) or why it has none (failed).

    Keeping failures as rows makes every URL's fate visible and lets discovery skip
    URLs that failed for good or too often without fetching them again.
    """

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("status IN ('ok', 'failed', 'skipped')", name="status"),
        # The invariants save_batch keeps, enforced so no other writer can break them.
        CheckConstraint(
            "status <> 'ok' OR (text IS NOT NULL AND content_hash IS NOT NULL)",
            name="ok_has_text",
        ),
        CheckConstraint(
            "status = 'ok' OR (stage IS NOT NULL AND reason IS NOT NULL)",
            name="failed_has_reason",
        ),
        Index("ix_documents_source_id_status", "source_id", "status"),
        # Readers of the corpus page through it in change order (storage.corpus).
        Index("ix_documents_change_seq_id", "change_seq", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, unique=True)   # canonical URL, the natural key
    final_url: Mapped[str | None] = mapped_column(Text)
    # The source that first found the URL; later sightings from other sources keep it.
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    status: Mapped[str] = mapped_column(String)
    stage: Mapped[str | None] = mapped_column(String)      # fetch | extract; None when ok
    reason: Mapped[str | None] = mapped_column(String)     # None when ok
    detail: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str] | None] = mapped_column(JSONType)
    published_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    fetched_at: Mapped[datetime | None]    # last successful fetch
    updated_at: Mapped[datetime]           # last time the row changed
    language: Mapped[str | None] = mapped_column(String)
    text: Mapped[str | None] = mapped_column(Text)
    # The extraction before cleaning, so cleaning can be re-run and explained.
    raw_text: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When a reader last had something new to see here (storage.cursors.mark_changed).
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")


class Run(Base):
    """One pass over one source with its outcome counts."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'ok', 'failed', 'interrupted')", name="status"),
        Index("ix_runs_source_id_started_at", "source_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String)
    found: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)          # total over reasons
    failures: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)  # reason -> n
    skipped: Mapped[int] = mapped_column(Integer, default=0)         # total over reasons
    skips: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)     # reason -> n
    error: Mapped[str | None] = mapped_column(Text)
