"""One pass over some sources: discover, skip what is stored, fetch, extract, store.

This is where the rooms meet: the crawler discovers and fetches, the pipeline's
workers extract, and storage writes each batch in one transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from crawler.errors import FeedError, SitemapError
from crawler.feeds import poll_feed
from crawler.fetch import fetch_pages
from crawler.records import FeedEntry, FetchedPage, FetchFailure, FetchResult, PageRequest
from crawler.sitemaps import SitemapFilter, poll_sitemaps
from crawler.sources import SourceConfig, parse_interval
from crawler.urllist import BadLine, read_url_list
from newsingest.config import Settings
from newsingest.importer import archive_results
from newsingest.sites import site_results
from pipeline.records import Article, Failure, Outcome
from pipeline.workers import ExtractionPool
from storage.records import RunCounts
from storage.store import Store

logger = logging.getLogger(__name__)

# Kinds whose discovery yields article URLs, fetched together in one fetcher process;
# the others (site crawls, local files) produce their pages themselves.
LISTING_KINDS = frozenset({"feed", "urls", "sitemap"})

_POLL_THREADS = 8  # feeds are polled in parallel; each poll is one small GET


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True, kw_only=True)
class RunReport:
    """What one run over one source did."""

    source: str
    run_id: int
    started_at: datetime
    counts: RunCounts = field(default_factory=RunCounts)
    status: str = "ok"  # ok | failed | interrupted
    error: str | None = None
    seconds: float = 0.0


class BatchStage(Protocol):
    """A stage that runs in this process around each batch's write.

    Stages that need stored state (learned boilerplate, the dedup index) live here
    rather than in the extraction workers, which have no database. ``before_save``
    may return changed articles (``dataclasses.replace``); ``after_save`` sees the
    articles as they were written, in the same order.
    """

    def before_save(self, articles: list[Article]) -> list[Article]: ...

    def after_save(self, articles: list[Article]) -> None: ...


class Ingestor:
    """Runs passes over sources with a shared store and extraction pool."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        pool: ExtractionPool,
        stop: threading.Event | None = None,
        stages: Sequence[BatchStage] = (),
    ) -> None:
        self.settings = settings
        self.store = store
        self.pool = pool
        self.stop = stop or threading.Event()
        self.stages = list(stages)

    def run(self, sources: Sequence[SourceConfig]) -> list[RunReport]:
        """One pass over ``sources``; every source gets a run row with its counts.

        All sources' new URLs go to one fetcher process, so per-domain politeness
        holds across sources that share a host.
        """
        with self.runs(sources) as reports:
            listed = [s for s in sources if s.kind in LISTING_KINDS]
            requests = self._discover(listed, reports)
            if requests and not self.stop.is_set():
                self.fetch_and_store(requests, reports)
            for source in sources:
                if source.kind not in LISTING_KINDS and not self.stop.is_set():
                    self.store_results(self._pages(source, reports[source.id]), reports)
        return list(reports.values())

    @contextmanager
    def runs(self, sources: Sequence[SourceConfig]) -> Iterator[dict[str, RunReport]]:
        """Open a run row per source; on exit, close each with its counts and status.

        A bug or an interrupt inside closes the runs as failed, then propagates; a
        stop request closes them as interrupted.
        """
        clock = time.monotonic()
        reports = {
            s.id: RunReport(
                source=s.id, run_id=self.store.start_run(s.id, utcnow()), started_at=utcnow()
            )
            for s in sources
        }
        try:
            yield reports
        except BaseException as exc:
            for report in reports.values():
                report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            elapsed = time.monotonic() - clock
            for report in reports.values():
                if self.stop.is_set() and report.status == "ok":
                    report.status = "interrupted"
                report.seconds = elapsed
                self.store.finish_run(
                    report.run_id,
                    report.counts,
                    at=utcnow(),
                    status=report.status,
                    error=report.error,
                )
                _log_run(report)

    def new_requests(
        self, source: SourceConfig, entries: Iterable[FeedEntry], counts: RunCounts
    ) -> list[PageRequest]:
        """The entries worth fetching: distinct, not stored yet, at most max_articles.

        Adds to ``counts.found`` and ``counts.new``.
        """
        unique = _unique(entries)
        counts.found += len(unique)
        skip = self.store.urls_to_skip(e.url for e in unique)
        fresh = [e for e in unique if e.url not in skip]
        if source.max_articles is not None:
            fresh = fresh[: source.max_articles]
        counts.new += len(fresh)
        return [PageRequest(url=e.url, source=source.id, hint=e) for e in fresh]

    # -- discovery ---------------------------------------------------------------

    def _discover(
        self, sources: Sequence[SourceConfig], reports: dict[str, RunReport]
    ) -> list[PageRequest]:
        with ThreadPoolExecutor(max_workers=_POLL_THREADS, thread_name_prefix="poll") as threads:
            found = dict(
                zip(
                    [s.id for s in sources],
                    threads.map(lambda s: self._entries(s, reports[s.id]), sources),
                    strict=True,
                )
            )
        requests: list[PageRequest] = []
        for source in sources:
            requests += self.new_requests(source, found[source.id], reports[source.id].counts)
        return requests

    def _entries(self, source: SourceConfig, report: RunReport) -> list[FeedEntry]:
        if source.kind == "feed":
            return self._poll(source, report)
        if source.kind == "sitemap":
            return self._poll_sitemap(source, report)
        assert source.path is not None  # the config validator guarantees it
        entries: list[FeedEntry] = []
        for item in read_url_list(source.path):
            if isinstance(item, BadLine):
                logger.warning(
                    "%s line %d: %r is not a URL (%s)",
                    source.path,
                    item.line_no,
                    item.text,
                    item.why,
                )
                report.counts.failed["bad_url_line"] += 1
            else:
                entries.append(item)
        return entries

    def _pages(self, source: SourceConfig, report: RunReport) -> Iterator[FetchResult]:
        """Pages of a source that is not a list of URLs: a site crawl or local files."""
        if source.kind == "files":
            assert source.path is not None  # the config validator guarantees it
            return archive_results(
                [source.path],
                source.id,
                self.store,
                report.counts,
                max_bytes=self.settings.crawl.max_page_bytes,
            )
        if source.kind == "site":
            return site_results(source, self.settings.crawl, self.store, report.counts)
        raise NotImplementedError(f"source kind {source.kind!r}")

    def _poll(self, source: SourceConfig, report: RunReport) -> list[FeedEntry]:
        assert source.url is not None
        state = self.store.fetch_state(source.id)
        try:
            poll = poll_feed(
                source.id,
                source.url,
                etag=state.etag,
                last_modified=state.last_modified,
                settings=self.settings.crawl,
            )
        except FeedError as exc:
            logger.warning("feed %s (%s) failed: %s", source.url, source.id, exc)
            self.store.record_poll(source.id, at=utcnow(), status=None, error=str(exc))
            report.counts.failed[f"feed_{exc.reason}"] += 1
            report.status, report.error = "failed", str(exc)
            return []
        self.store.record_poll(
            source.id,
            at=utcnow(),
            status=poll.status,
            etag=poll.etag,
            last_modified=poll.last_modified,
        )
        logger.debug(
            "feed %s (%s): status %d, %d entries",
            source.url,
            source.id,
            poll.status,
            len(poll.entries),
        )
        return list(poll.entries)

    def _poll_sitemap(self, source: SourceConfig, report: RunReport) -> list[FeedEntry]:
        """Read a sitemap source; a failure is the source's own, as for a broken feed."""
        assert source.url is not None
        state = self.store.fetch_state(source.id)
        keep = SitemapFilter.of(
            allow=source.allow,
            deny=source.deny,
            max_age=parse_interval(source.max_age) if source.max_age else None,
            lastmod_after=source.lastmod_after,
        )
        try:
            poll = poll_sitemaps(
                source.id,
                source.url,
                settings=self.settings.crawl,
                etag=state.etag,
                last_modified=state.last_modified,
                keep=keep,
                stop=self.stop,
            )
        except SitemapError as exc:
            logger.warning("sitemap %s (%s) failed: %s", source.url, source.id, exc)
            self.store.record_poll(source.id, at=utcnow(), status=None, error=str(exc))
            report.counts.failed[f"sitemap_{exc.reason}"] += 1
            report.status, report.error = "failed", str(exc)
            return []
        # Entries left for a later run (caps, a stop) must not hide behind a 304 next time.
        more_left = not poll.complete or (
            source.max_articles is not None and len(poll.entries) > source.max_articles
        )
        self.store.record_poll(
            source.id,
            at=utcnow(),
            status=poll.status,
            etag=None if more_left else poll.etag,
            last_modified=None if more_left else poll.last_modified,
        )
        for error in poll.errors:  # sitemaps of an index that failed; the rest was read
            report.counts.failed[f"sitemap_{error.reason}"] += 1
        report.counts.skipped.update(poll.skipped)
        logger.debug(
            "sitemap %s (%s): status %d, %d files, %d entries, %d filtered out",
            source.url,
            source.id,
            poll.status,
            poll.sitemaps_read,
            len(poll.entries),
            poll.filtered,
        )
        return list(poll.entries)

    # -- fetch, extract, store ----------------------------------------------------

    def fetch_and_store(
        self, requests: Sequence[PageRequest], reports: dict[str, RunReport]
    ) -> None:
        """Fetch ``requests`` in one fetcher process, then extract and store them."""
        self.store_results(fetch_pages(requests, self.settings.crawl), reports)

    def store_results(self, results: Iterator[FetchResult], reports: dict[str, RunReport]) -> None:
        """Extract the fetched pages in the pool and store every outcome in batches.

        ``results`` may come from the fetcher or from anywhere else (local archives);
        each result's source must have a report in ``reports``. A stop request ends
        the pass after the batch in hand is stored; ``results`` is closed then, if it
        is a generator (which stops a fetcher process).
        """
        batch: list[Outcome] = []
        in_flight: dict[Future[Outcome], FetchedPage] = {}
        # Enough queued pages to keep every worker busy, few enough to bound memory.
        max_in_flight = 4 * self.pool.size
        # Batches are written (batch stages, then one transaction) on a writer thread,
        # so fetching and extraction go on while a batch is stored. One write at a
        # time, and at most one waiting: order is kept and memory stays bounded.
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")
        writing: Future[None] | None = None
        # When the oldest page not yet written arrived (None: there is none); a page
        # arriving ``batch_seconds`` after it writes a short batch.
        opened: float | None = None

        def harvest(block: bool) -> None:
            if not in_flight:
                return
            done, _ = wait(in_flight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
            for future in done:
                batch.append(self.pool.result(in_flight.pop(future), future))

        def flush() -> None:
            nonlocal writing, opened
            if writing is not None:
                writing.result()  # a failed write fails the run here
            writing = writer.submit(self._save, list(batch), reports) if batch else None
            batch.clear()
            # Pages still being extracted belong to the next batch: its age starts now.
            opened = time.monotonic() if in_flight else None

        settings = self.settings.pipeline
        try:
            for result in results:
                arrived = time.monotonic()
                opened = arrived if opened is None else opened
                if isinstance(result, FetchedPage):
                    reports[result.source].counts.fetched += 1
                    in_flight[self.pool.submit(result)] = result
                else:
                    batch.append(_fetch_failure(result))
                harvest(block=len(in_flight) >= max_in_flight)
                if len(batch) >= settings.batch_size or (
                    batch and arrived - opened >= settings.batch_seconds
                ):
                    flush()
                if self.stop.is_set():
                    logger.info("stop requested: finishing the current batch")
                    break
        finally:
            if isinstance(results, Generator):
                results.close()  # stops the fetcher process if we broke off
            try:
                while in_flight:
                    harvest(block=True)
                flush()
                flush()  # waits for the last write
            finally:
                writer.shutdown(wait=True)

    def _save(self, batch: list[Outcome], reports: dict[str, RunReport]) -> None:
        # Keyed by their stored documents first (aliases, rel=canonical): the stages
        # look documents up by Article.url.
        articles = self.store.identify([o for o in batch if isinstance(o, Article)])
        for stage in self.stages:
            articles = stage.before_save(articles)
        by_source: dict[str, list[Outcome]] = defaultdict(list)
        failures: list[Outcome] = [o for o in batch if isinstance(o, Failure)]
        for outcome in [*articles, *failures]:
            by_source[outcome.source].append(outcome)
        for source, outcomes in by_source.items():
            reports[source].counts.add(self.store.save_batch(outcomes))
        for stage in self.stages:
            stage.after_save(articles)


def _unique(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
    """Entries with distinct URLs, first one wins."""
    seen: dict[str, FeedEntry] = {}
    for entry in entries:
        seen.setdefault(entry.url, entry)
    return list(seen.values())


def _fetch_failure(failure: FetchFailure) -> Failure:
    logger.debug(
        "fetch %s (%s): %s %s", failure.url, failure.source, failure.reason, failure.detail
    )
    return Failure(
        url=failure.url,
        source=failure.source,
        stage="fetch",
        reason=failure.reason,
        detail=failure.detail,
        status=failure.status,
        at=failure.fetched_at,
    )


def _log_run(report: RunReport) -> None:
    c = report.counts

    def by_reason(counter: Counter[str]) -> str:
        return ",".join(f"{reason}:{n}" for reason, n in sorted(counter.items())) or "-"

    logger.info(
        "run source=%s status=%s found=%d new=%d fetched=%d stored=%d updated=%d "
        "unchanged=%d failed=%d failed_by_reason=%s skipped=%s seconds=%.1f%s",
        report.source,
        report.status,
        c.found,
        c.new,
        c.fetched,
        c.stored,
        c.updated,
        c.unchanged,
        c.failed_total,
        by_reason(c.failed),
        by_reason(c.skipped),
        report.seconds,
        f" error={report.error!r}" if report.error else "",
        # The same, as fields of their own for the JSON log format.
        extra={
            "fields": {
                "event": "run",
                "source": report.source,
                "status": report.status,
                "found": c.found,
                "new": c.new,
                "fetched": c.fetched,
                "stored": c.stored,
                "updated": c.updated,
                "unchanged": c.unchanged,
                "failed": c.failed_total,
                "failed_by_reason": dict(c.failed),
                "skipped_by_reason": dict(c.skipped),
                "seconds": round(report.seconds, 3),
                "error": report.error,
            }
        },
    )
