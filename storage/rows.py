"""Translate between database rows and storage's records, and pick the dialect's upsert.

Kept apart from ``store.py`` so the queries there read as queries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Row
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.records import Article, Failure
from storage.errors import StorageError
from storage.models import Base
from storage.records import FetchState, RunCounts, RunRecord, StoredDocument

T = TypeVar("T")

# SQLite allows 32766 bound parameters per statement and PostgreSQL 65535; 500 keeps
# each IN (...) list far below both, and the query plans short.
IN_CHUNK = 500

Upsert = sqlite.Insert | postgresql.Insert


def insert_for(conn: Connection, model: type[Base]) -> Upsert:
    """Return the dialect's INSERT, which offers ``on_conflict_do_update``."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    raise StorageError(f"Unsupported database {name!r}: newsingest supports SQLite and PostgreSQL.")


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of ``items`` of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def last_per_url(outcomes: Iterable[Article | Failure]) -> dict[str, Article | Failure]:
    """Keep the last outcome for each URL: a batch may hold a URL twice (a retry)."""
    latest: dict[str, Article | Failure] = {}
    for outcome in outcomes:
        latest[outcome.url] = outcome
    return latest


def article_values(article: Article) -> dict[str, Any]:
    """Column values of the documents row for an article."""
    return {
        "url": article.url,
        "final_url": article.final_url,
        "source_id": article.source,
        "status": "ok",
        "stage": None,
        "reason": None,
        "detail": None,
        "http_status": None,
        "title": article.title,
        "authors": list(article.authors),
        "published_at": article.published_at,
        "first_seen_at": article.fetched_at,
        "fetched_at": article.fetched_at,
        "updated_at": article.fetched_at,
        "language": article.language,
        "text": article.text,
        "raw_text": article.raw_text,
        "content_hash": article.content_hash,
        "attempts": 1,
    }


def failure_values(failure: Failure) -> dict[str, Any]:
    """Column values of the documents row for a URL that failed or was skipped."""
    return {
        "url": failure.url,
        "final_url": None,
        "source_id": failure.source,
        "status": "skipped" if failure.skipped else "failed",
        "stage": failure.stage,
        "reason": failure.reason,
        "detail": failure.detail,
        "http_status": failure.status,
        "title": None,
        "authors": None,
        "published_at": None,
        "first_seen_at": failure.at,
        "fetched_at": None,
        "updated_at": failure.at,
        "language": None,
        "text": None,
        "raw_text": None,
        "content_hash": None,
        "attempts": 1,
    }


def to_document(row: Row[Any]) -> StoredDocument:
    """A documents row as a ``StoredDocument``."""
    return StoredDocument(
        id=row.id,
        url=row.url,
        final_url=row.final_url,
        source=row.source_id,
        status=row.status,
        stage=row.stage,
        reason=row.reason,
        detail=row.detail,
        http_status=row.http_status,
        title=row.title,
        authors=tuple(row.authors or ()),
        published_at=row.published_at,
        first_seen_at=row.first_seen_at,
        fetched_at=row.fetched_at,
        updated_at=row.updated_at,
        language=row.language,
        text=row.text,
        raw_text=row.raw_text,
        content_hash=row.content_hash,
        attempts=row.attempts,
        # Present when the query joined the copy index (Store.document, .documents).
        copy_id=row._mapping.get("copy_id"),
        is_representative=bool(row._mapping.get("is_representative")),
    )


def to_fetch_state(row: Row[Any]) -> FetchState:
    """A fetch_state row as a ``FetchState``."""
    return FetchState(
        source=row.source_id,
        etag=row.etag,
        last_modified=row.last_modified,
        last_status=row.last_status,
        last_attempt_at=row.last_attempt_at,
        last_success_at=row.last_success_at,
        consecutive_failures=row.consecutive_failures,
        last_error=row.last_error,
    )


def to_run(row: Row[Any]) -> RunRecord:
    """A runs row as a ``RunRecord``."""
    counts = RunCounts(
        found=row.found,
        new=row.new,
        fetched=row.fetched,
        stored=row.stored,
        updated=row.updated,
        unchanged=row.unchanged,
        failed=Counter({str(k): int(v) for k, v in (row.failures or {}).items()}),
        skipped=Counter({str(k): int(v) for k, v in (row.skips or {}).items()}),
    )
    return RunRecord(
        id=row.id,
        source=row.source_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=row.status,
        counts=counts,
        error=row.error,
    )


def run_count_values(counts: RunCounts) -> dict[str, Any]:
    """The count columns of a runs row."""
    return {
        "found": counts.found,
        "new": counts.new,
        "fetched": counts.fetched,
        "stored": counts.stored,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "failed": counts.failed_total,
        "failures": {reason: n for reason, n in counts.failed.items() if n},
        "skipped": sum(counts.skipped.values()),
        "skips": {reason: n for reason, n in counts.skipped.items() if n},
    }
