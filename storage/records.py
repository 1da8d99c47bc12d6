"""Records storage takes and returns (ORM objects never leave ``storage``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceRecord:
    """A configured source as the database keeps it."""

    id: str
    kind: str
    url: str | None
    enabled: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchState:
    """What we remember about polling one source (validators and health)."""

    source: str
    etag: str | None = None
    last_modified: str | None = None
    last_status: int | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None


@dataclass(slots=True, kw_only=True)
class RunCounts:
    """Outcome counts of one run (mutable: a run fills it in as it goes)."""

    found: int = 0  # entries the feed/list yielded
    new: int = 0  # of those, not yet stored (so queued for fetching)
    fetched: int = 0  # pages downloaded successfully
    stored: int = 0  # new documents written
    updated: int = 0  # existing documents whose text changed
    unchanged: int = 0  # re-fetched documents whose text had not changed
    failed: Counter[str] = field(default_factory=Counter)  # reason -> count
    skipped: Counter[str] = field(default_factory=Counter)  # not_html, robots_disallowed

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def add(self, other: BatchResult) -> None:
        self.stored += other.stored
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed.update(other.failed)
        self.skipped.update(other.skipped)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    """What one ``save_batch`` call wrote."""

    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One finished or running pass over one source."""

    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | ok | failed | interrupted
    counts: RunCounts
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSummary:
    """Per-source figures for status pages and the demo's summary."""

    source: str
    kind: str
    documents: int
    failures: dict[str, int]  # reason -> URLs currently failed for it
    skipped: dict[str, int]  # reason -> URLs skipped for it (robots.txt, not HTML)
    state: FetchState
    last_run: RunRecord | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDocument:
    """One row of the documents table: a canonical URL's article, or why it has none.

    ``status`` is ``ok`` (the article fields are set; ``stage`` and ``reason`` are None)
    or ``failed`` (``stage`` and ``reason`` say why; the article fields are None unless
    ``authors``, which is then empty).
    """

    id: int
    url: str  # canonical URL, the natural key
    final_url: str | None
    source: str  # the source that first found the URL
    status: str  # ok | failed | skipped
    stage: str | None  # fetch | extract, when failed
    reason: str | None  # e.g. http_404, no_main_text, when failed
    detail: str | None
    http_status: int | None
    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None  # tz-aware UTC
    first_seen_at: datetime  # tz-aware UTC; kept across updates
    fetched_at: datetime | None  # last successful fetch, tz-aware UTC
    updated_at: datetime  # last time the row changed, tz-aware UTC
    language: str | None
    text: str | None
    raw_text: str | None  # the extraction before cleaning (ok documents)
    content_hash: str | None
    attempts: int  # outcomes recorded for this URL (fetches tried)
    copy_id: int | None = None  # its copy cluster, once the copy stage has seen it
    is_representative: bool = False  # it represents its copy cluster
