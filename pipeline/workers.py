"""A pool of worker processes for the CPU-bound stages (extraction).

Fetching is I/O and runs in the crawler's own process; parsing HTML is CPU work
that would hold the GIL, so it runs here, one process per core by default.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime

from crawler.records import FetchedPage
from pipeline.extract import extract_article
from pipeline.records import Failure, Outcome
from pipeline.settings import PipelineSettings

logger = logging.getLogger(__name__)


def worker_count(settings: PipelineSettings) -> int:
    """The configured number of workers, or one per CPU this process may use."""
    if settings.workers:
        return settings.workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_WARM_UP_PAGE = FetchedPage(
    url="http://warm.up/",
    final_url="http://warm.up/",
    source="warm-up",
    status=200,
    body=(
        b"<html lang='en'><head><title>Warm up</title></head><body><article>"
        b"<p>Published on 21 October 2024 by the desk.</p>"
        b"<p>This page exists to load the extraction code before real pages arrive.</p>"
        b"</article></body></html>"
    ),
    encoding="utf-8",
    fetched_at=datetime(2024, 10, 21, tzinfo=UTC),
)


def _warm_up() -> None:
    # Ctrl-C in a terminal reaches the whole process group; the parent decides
    # when to stop, so a worker must not die half-way through a page.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Load the heavy modules and data (trafilatura, htmldate's date-parser locales,
    # about a second) once per worker, not on the first real page.
    extract_article(_WARM_UP_PAGE, PipelineSettings())


class ExtractionPool:
    """Runs ``extract_article`` in worker processes; survives a crashed worker."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.size = worker_count(settings)
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the parent runs scheduler and logging threads, and a
            # forked child can inherit a lock held by one of them.
            self._executor = ProcessPoolExecutor(
                max_workers=self.size,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_up,
            )
        return self._executor

    def warm_up(self) -> None:
        """Start every worker now rather than on the first pages."""
        pool = self._pool()
        for future in [pool.submit(_warm_up) for _ in range(self.size)]:
            future.result()

    def submit(self, page: FetchedPage) -> Future[Outcome]:
        """Queue one page for extraction."""
        try:
            return self._pool().submit(extract_article, page, self.settings)
        except BrokenProcessPool:
            self._restart()
            return self._pool().submit(extract_article, page, self.settings)

    def result(self, page: FetchedPage, future: Future[Outcome]) -> Outcome:
        """The outcome of a submitted page; a dead worker becomes that page's Failure."""
        try:
            return future.result()
        except BrokenProcessPool as exc:
            # A page that kills its worker (lxml segfault, OOM) is recorded, and the
            # pool is rebuilt so the run goes on.
            logger.warning("extraction worker died on %s (%s): %s", page.url, page.source, exc)
            self._restart()
            return Failure(
                url=page.url,
                source=page.source,
                stage="extract",
                reason="extraction_crashed",
                detail=str(exc) or "worker process died",
                status=page.status,
                at=page.fetched_at,
            )

    def _restart(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None

    def close(self) -> None:
        """Stop the workers after the queued pages are done."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
