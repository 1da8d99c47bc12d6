"""The corpus store: idempotent writes and the queries the rest of newsingest needs.

``Store`` takes and returns records (``pipeline.records`` and ``storage.records``);
ORM objects never leave it. Each public method is one transaction, and every write is
an upsert on a natural key (source id, canonical URL), so re-running a batch or
crashing half-way through a run never duplicates or loses a document. Every other URL
a document was met under is kept as its alias (``storage.aliases``): meeting one again
finds the document rather than making a second one.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, func, or_, select, update

from pipeline.records import Article, Failure
from storage.aliases import UrlAliasRow, one_per_document, resolve_identities, write_aliases
from storage.copies import with_copies
from storage.cursors import mark_changed
from storage.database import EngineUser, retry_aborted, translate_errors
from storage.errors import StorageError, UnknownSourceError
from storage.migrate import open_database
from storage.models import Document, FetchStateRow, Run, Source
from storage.records import (
    BatchResult,
    FetchState,
    RunCounts,
    RunRecord,
    SourceRecord,
    SourceSummary,
    StoredDocument,
)
from storage.rows import (
    article_values,
    chunked,
    failure_values,
    insert_for,
    last_per_url,
    run_count_values,
    to_document,
    to_fetch_state,
    to_run,
)
from storage.settings import DatabaseSettings

logger = logging.getLogger(__name__)

# Failure reasons that fetching again will not cure: such URLs are skipped for good.
PERMANENT_REASONS = frozenset(
    {"http_404", "http_410", "not_html", "robots_disallowed", "too_large", "no_main_text"}
)


class _Known(NamedTuple):
    status: str
    content_hash: str | None


def open_store(settings: DatabaseSettings) -> Store:
    """Connect to the configured database, bring its schema to head, return a ``Store``.

    Raises ``DatabaseError`` (unreachable database, bad URL), ``SchemaOutOfDateError``
    (behind, with auto_migrate off) or ``SchemaTooNewError``.
    """
    return Store(open_database(settings))


class Store(EngineUser):
    """Reads and writes the corpus through one engine (thread-safe, like the engine)."""

    # -- sources and polling -------------------------------------------------------------

    def sync_sources(self, sources: Iterable[SourceRecord]) -> None:
        """Insert or update the configured sources (sources no longer configured stay,
        since their documents and runs refer to them)."""
        now = datetime.now(UTC)
        rows = {
            s.id: {
                "id": s.id,
                "kind": s.kind,
                "url": s.url,
                "enabled": s.enabled,
                "created_at": now,
                "updated_at": now,
            }
            for s in sources
        }
        if not rows:
            return
        with self._write() as conn:
            stmt = insert_for(conn, Source)
            new = stmt.excluded
            stmt = stmt.on_conflict_do_update(
                index_elements=[Source.id],
                set_={
                    "kind": new.kind,
                    "url": new.url,
                    "enabled": new.enabled,
                    "updated_at": new.updated_at,
                },
                # Leave updated_at alone when nothing changed.
                where=or_(
                    Source.kind != new.kind,
                    Source.url.is_distinct_from(new.url),
                    Source.enabled != new.enabled,
                ),
            )
            conn.execute(stmt, list(rows.values()))

    def fetch_state(self, source_id: str) -> FetchState:
        """What we remember about polling ``source_id`` (defaults if never polled)."""
        with self._read() as conn:
            row = conn.execute(
                select(FetchStateRow).where(FetchStateRow.source_id == source_id)
            ).one_or_none()
        return to_fetch_state(row) if row is not None else FetchState(source=source_id)

    def record_poll(
        self,
        source_id: str,
        *,
        at: datetime,
        status: int | None,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record one poll of a source's feed or sitemap.

        A success (``error`` None) stores the validators for the next conditional GET,
        except that a 304 keeps the old ones unless the server sent new ones; it sets
        ``last_success_at`` and resets ``consecutive_failures``. A failure keeps the
        validators, counts one more consecutive failure and remembers ``error``.
        """
        values = {
            "source_id": source_id,
            "etag": etag,
            "last_modified": last_modified,
            "last_status": status,
            "last_attempt_at": at,
            "last_success_at": at if error is None else None,
            "consecutive_failures": 0 if error is None else 1,
            "last_error": error,
        }
        with self._write() as conn:
            self._require_sources(conn, {source_id})
            stmt = insert_for(conn, FetchStateRow).values(values)
            new, old = stmt.excluded, FetchStateRow
            changes: dict[str, Any] = {
                "last_status": new.last_status,
                "last_attempt_at": new.last_attempt_at,
            }
            if error is None:
                not_modified = status == 304
                changes |= {
                    "etag": func.coalesce(new.etag, old.etag) if not_modified else new.etag,
                    "last_modified": (
                        func.coalesce(new.last_modified, old.last_modified)
                        if not_modified
                        else new.last_modified
                    ),
                    "last_success_at": new.last_success_at,
                    "consecutive_failures": 0,
                    "last_error": None,
                }
            else:
                # Computed in SQL so two processes polling at once both count.
                changes |= {
                    "consecutive_failures": old.consecutive_failures + 1,
                    "last_error": new.last_error,
                }
            conn.execute(
                stmt.on_conflict_do_update(index_elements=[FetchStateRow.source_id], set_=changes)
            )

    # -- documents -----------------------------------------------------------------------

    def urls_to_skip(self, urls: Iterable[str], *, max_attempts: int = 3) -> set[str]:
        """Of ``urls``, those not worth fetching: stored ok, an alias of a stored
        document, failed for a permanent reason (``PERMANENT_REASONS``), or failed
        ``max_attempts`` times already."""
        wanted = list(dict.fromkeys(urls))
        skip: set[str] = set()
        with self._read() as conn:
            for chunk in chunked(wanted):
                skip.update(
                    conn.scalars(select(UrlAliasRow.alias).where(UrlAliasRow.alias.in_(chunk)))
                )
                skip.update(
                    conn.scalars(
                        select(Document.url).where(
                            Document.url.in_(chunk),
                            or_(
                                Document.status.in_(("ok", "skipped")),
                                Document.reason.in_(PERMANENT_REASONS),
                                Document.attempts >= max_attempts,
                            ),
                        )
                    )
                )
        return skip

    def save_batch(self, outcomes: Sequence[Article | Failure]) -> BatchResult:
        """Store a batch of articles and failures in one transaction; return the counts.

        Each article is first keyed by its document (``storage.aliases``): when its
        URL or one of its aliases is already stored, or is an alias of a stored
        document, it belongs to that document, and its other URLs become aliases.
        Per document (the last outcome wins when one repeats in the batch): a new
        article is *stored*; one whose content_hash differs from the stored one is
        *updated* (first_seen_at and source kept); an identical one is *unchanged*
        (only fetched_at and attempts move). A failure is counted under its reason and
        recorded as a failed row (attempts incremented), but never replaces a document
        that is stored ok, and a failure for an alias of an article leaves no row.
        Running the same batch twice stores nothing the second time.
        """
        if not outcomes:
            return BatchResult()
        with translate_errors(self._engine):
            # Two PostgreSQL transactions inserting the same new URLs in a different
            # order can deadlock; the server aborts one. The batch is idempotent and
            # nothing of it was committed, so it is simply run again.
            result = retry_aborted(
                lambda: self._save_once(outcomes), what=f"batch of {len(outcomes)} outcomes"
            )
        logger.debug("Saved batch of %d outcomes: %s", len(outcomes), result)
        return result

    def identify(self, articles: Sequence[Article]) -> list[Article]:
        """The articles keyed by the documents they belong to, one per document.

        What ``save_batch`` does first, for the batch stages that run before it and
        look documents up by ``Article.url``: each article's URL becomes its stored
        document's (see ``storage.aliases.resolve_identities``); when two articles
        belong to one document the later one is kept, with the aliases of both.
        """
        if not articles:
            return []
        with self._read() as conn:
            resolved = resolve_identities(conn, articles).outcomes
        return one_per_document(o for o in resolved if isinstance(o, Article))

    def document(self, url: str) -> StoredDocument | None:
        """The stored row for ``url`` (its canonical URL or an alias), ok or failed, or None."""
        with self._read() as conn:
            query = with_copies(select(Document)).where(Document.url == url)
            row = conn.execute(query).one_or_none()
            if row is None:
                aliased = select(UrlAliasRow.document_id).where(UrlAliasRow.alias == url)
                query = with_copies(select(Document)).where(Document.id.in_(aliased))
                row = conn.execute(query).one_or_none()
        return to_document(row) if row is not None else None

    def documents(self, source_id: str | None = None) -> Iterator[StoredDocument]:
        """Every stored ok document (of one source, if given) in insertion order.

        Rows are streamed, so memory stays flat; the read transaction stays open until
        the iterator is exhausted or closed, so consume it promptly.
        """
        stmt = with_copies(select(Document)).where(Document.status == "ok").order_by(Document.id)
        if source_id is not None:
            stmt = stmt.where(Document.source_id == source_id)
        with self._read() as conn:
            for row in conn.execution_options(yield_per=500).execute(stmt):
                yield to_document(row)

    def count_documents(self, source_id: str | None = None, status: str | None = "ok") -> int:
        """How many documents (of one source, with one status; None means any)."""
        stmt = select(func.count()).select_from(Document)
        if source_id is not None:
            stmt = stmt.where(Document.source_id == source_id)
        if status is not None:
            stmt = stmt.where(Document.status == status)
        with self._read() as conn:
            return int(conn.scalar(stmt) or 0)

    # -- runs ----------------------------------------------------------------------------

    def start_run(self, source_id: str, at: datetime) -> int:
        """Record that a run over ``source_id`` started; return its id."""
        with self._write() as conn:
            self._require_sources(conn, {source_id})
            run_id = conn.execute(
                insert_for(conn, Run)
                .values(
                    source_id=source_id,
                    started_at=at,
                    status="running",
                    **run_count_values(RunCounts()),
                )
                .returning(Run.id)
            ).scalar_one()
            return int(run_id)

    def finish_run(
        self,
        run_id: int,
        counts: RunCounts,
        *,
        at: datetime,
        status: str = "ok",
        error: str | None = None,
    ) -> None:
        """Record a run's end, its counts, and (for a failed run) its error."""
        with self._write() as conn:
            result = conn.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(finished_at=at, status=status, error=error, **run_count_values(counts))
            )
            if result.rowcount == 0:
                raise StorageError(f"No run with id {run_id} to finish.")

    def runs(self, source_id: str | None = None, limit: int = 20) -> list[RunRecord]:
        """The most recent runs (of one source, if given), newest first."""
        stmt = select(Run).order_by(Run.started_at.desc(), Run.id.desc()).limit(limit)
        if source_id is not None:
            stmt = stmt.where(Run.source_id == source_id)
        with self._read() as conn:
            return [to_run(row) for row in conn.execute(stmt)]

    def last_run(self, source_id: str) -> RunRecord | None:
        """The newest run of ``source_id``, or None if it never ran."""
        found = self.runs(source_id, limit=1)
        return found[0] if found else None

    def mark_interrupted_runs(self, *, at: datetime | None = None) -> int:
        """Mark runs left 'running' by a process that died as 'interrupted'; count them.

        Call it once at start-up of the process that owns the runs (the scheduler):
        with several live workers sharing a database it would also catch their runs.
        """
        with self._write() as conn:
            result = conn.execute(
                update(Run)
                .where(Run.status == "running")
                .values(status="interrupted", finished_at=at or datetime.now(UTC))
            )
        if result.rowcount:
            logger.info("Marked %d unfinished run(s) as interrupted", result.rowcount)
        return int(result.rowcount)

    # -- summaries -----------------------------------------------------------------------

    def source_summaries(self) -> list[SourceSummary]:
        """Per-source figures: ok documents, failed URLs per reason, poll state, last run."""
        newest_first = (
            func.row_number()
            .over(partition_by=Run.source_id, order_by=(Run.started_at.desc(), Run.id.desc()))
            .label("rank")
        )
        ranked = select(Run, newest_first).subquery()
        with self._read() as conn:
            sources = conn.execute(select(Source.id, Source.kind).order_by(Source.id)).all()
            tallies = conn.execute(
                select(Document.source_id, Document.status, Document.reason, func.count()).group_by(
                    Document.source_id, Document.status, Document.reason
                )
            ).all()
            states = {r.source_id: to_fetch_state(r) for r in conn.execute(select(FetchStateRow))}
            last_runs = {
                r.source_id: to_run(r)
                for r in conn.execute(select(ranked).where(ranked.c.rank == 1))
            }

        documents: Counter[str] = Counter()
        failures: dict[str, Counter[str]] = {}
        skips: dict[str, Counter[str]] = {}
        for source_id, status, reason, n in tallies:
            if status == "ok":
                documents[source_id] += n
            else:
                # The check constraint guarantees failed and skipped rows carry a reason.
                tally = skips if status == "skipped" else failures
                tally.setdefault(source_id, Counter())[str(reason)] += n
        return [
            SourceSummary(
                source=s.id,
                kind=s.kind,
                documents=documents[s.id],
                failures=dict(failures.get(s.id, {})),
                skipped=dict(skips.get(s.id, {})),
                state=states.get(s.id, FetchState(source=s.id)),
                last_run=last_runs.get(s.id),
            )
            for s in sources
        ]

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _require_sources(conn: Connection, source_ids: set[str]) -> None:
        """Fail with a clear message, rather than a foreign-key error, on unknown sources."""
        present = set(conn.scalars(select(Source.id).where(Source.id.in_(source_ids))))
        missing = sorted(source_ids - present)
        if missing:
            raise UnknownSourceError(missing)

    def _save_once(self, outcomes: Sequence[Article | Failure]) -> BatchResult:
        """One attempt at ``save_batch``, in one transaction."""
        upserts: list[dict[str, Any]] = []
        touches: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        stored = updated = unchanged = 0
        failed: Counter[str] = Counter()
        skipped: Counter[str] = Counter()

        with self._writer.begin() as conn:
            self._require_sources(conn, {o.source for o in outcomes})
            resolution = resolve_identities(conn, outcomes)
            for absorbed in resolution.absorbed:
                (skipped if absorbed.skipped else failed)[absorbed.reason] += 1
            latest = last_per_url(resolution.outcomes)
            known = self._known(conn, list(latest))
            for url, outcome in latest.items():
                prior = known.get(url)
                has_ok = prior is not None and prior.status == "ok"
                if isinstance(outcome, Failure):
                    (skipped if outcome.skipped else failed)[outcome.reason] += 1
                    if not has_ok:
                        failures.append(failure_values(outcome))
                elif not has_ok:
                    stored += 1
                    upserts.append(article_values(outcome))
                elif prior is not None and prior.content_hash != outcome.content_hash:
                    updated += 1
                    upserts.append(article_values(outcome))
                else:
                    unchanged += 1
                    touches.append(
                        {
                            "b_url": url,
                            "b_fetched_at": outcome.fetched_at,
                            "b_raw_text": outcome.raw_text,
                        }
                    )

            # Rows in URL order, so concurrent batches on PostgreSQL lock rows in the same
            # order rather than deadlocking on each other.
            upserts.sort(key=lambda row: str(row["url"]))
            touches.sort(key=lambda row: str(row["b_url"]))
            failures.sort(key=lambda row: str(row["url"]))
            if upserts:
                conn.execute(self._article_upsert(conn), upserts)
            if touches:
                conn.execute(
                    update(Document)
                    .where(Document.url == bindparam("b_url"))
                    # raw_text too: the template around an unchanged text may have moved.
                    .values(
                        fetched_at=bindparam("b_fetched_at"),
                        raw_text=bindparam("b_raw_text"),
                        attempts=Document.attempts + 1,
                    ),
                    touches,
                )
            if failures:
                conn.execute(self._failure_upsert(conn), failures)
            write_aliases(
                conn,
                [o for o in resolution.outcomes if isinstance(o, Article)],
                datetime.now(UTC),
            )
            # Last: it holds the change counter until the commit (storage.cursors).
            mark_changed(conn, urls=[row["url"] for row in upserts])

        return BatchResult(
            stored=stored, updated=updated, unchanged=unchanged, failed=failed, skipped=skipped
        )

    @staticmethod
    def _known(conn: Connection, urls: list[str]) -> dict[str, _Known]:
        """Status and hash of the URLs already stored, their rows locked until commit.

        On PostgreSQL the rows are locked here, in URL order, so the upserts that follow
        need no further locks on them and two overlapping batches cannot deadlock on
        rows that already exist (SQLite ignores FOR UPDATE; BEGIN IMMEDIATE serialises).
        """
        known: dict[str, _Known] = {}
        for chunk in chunked(sorted(urls)):
            rows = conn.execute(
                select(Document.url, Document.status, Document.content_hash)
                .where(Document.url.in_(chunk))
                .order_by(Document.url)
                .with_for_update()
            )
            known.update((url, _Known(status, h)) for url, status, h in rows)
        return known

    @staticmethod
    def _article_upsert(conn: Connection) -> Any:
        stmt = insert_for(conn, Document)
        new = stmt.excluded
        kept = {"id", "url", "source_id", "first_seen_at", "attempts"}
        changes: dict[str, Any] = {
            c.name: new[c.name] for c in Document.__table__.columns if c.name not in kept
        }
        changes["attempts"] = Document.attempts + 1
        return stmt.on_conflict_do_update(index_elements=[Document.url], set_=changes)

    @staticmethod
    def _failure_upsert(conn: Connection) -> Any:
        stmt = insert_for(conn, Document)
        new = stmt.excluded
        return stmt.on_conflict_do_update(
            index_elements=[Document.url],
            set_={
                "status": new.status,
                "stage": new.stage,
                "reason": new.reason,
                "detail": new.detail,
                "http_status": new.http_status,
                "updated_at": new.updated_at,
                "attempts": Document.attempts + 1,
            },
            # Decided in SQL as well as above: a concurrent writer may have stored the
            # article since we looked, and a failure must never replace it.
            where=Document.status != "ok",
        )
