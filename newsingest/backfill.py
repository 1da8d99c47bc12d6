"""Backfill a list of article URLs: chunk by chunk, fetch what is not stored, remember how far.

The list is streamed (:class:`~crawler.urllist.URLListReader`): only one chunk of URLs
is held at a time. Per chunk, the ingestor drops the URLs already stored (after
canonicalisation), fetches the rest with the crawl settings' politeness in one fetcher
process, extracts and stores them; only then is the chunk's last line recorded in
``backfill_progress``. A resumed backfill starts after that line, and the stored-URL
check covers a chunk that was cut short, so no page that was stored is fetched again.

A run row covers the whole backfill, so ``status`` and the runs table show its counts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from crawler.records import FeedEntry
from crawler.sources import SourceConfig
from crawler.urllist import BadLine, ListedURL, URLListReader
from newsingest.config import ConfigError
from newsingest.ingest import Ingestor, RunReport
from storage.backfill import BackfillStore
from storage.records import RunCounts

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 2000
BAD_LINES_KEPT = 20  # bad lines listed at the end; the rest are only counted
BAD_LINE_REASON = "bad_url_line"  # the run's failure reason for them, as for urls sources


@dataclass(frozen=True, slots=True, kw_only=True)
class URLList:
    """Where a backfill's lines come from."""

    name: str  # as the user gave it: a path, or "-" for stdin
    lines: Iterable[str]
    key: str | None  # resume key (the resolved path); None: no resuming by line (stdin)
    total_lines: int | None = None  # when cheaply known (a regular file), for the ETA


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillSnapshot:
    """How far a running backfill has got, for a progress display."""

    line: int  # lines handled (within a chunk, estimated from its stored outcomes)
    started_after: int  # the line this run resumed after (0: from the start)
    total_lines: int | None
    fetched: int  # pages downloaded
    stored: int  # new, updated or unchanged documents
    already_stored: int  # listed URLs skipped because they were stored before
    failed: int  # URLs that failed or were skipped (robots.txt, not HTML)
    bad_lines: int
    seconds: float

    @property
    def pages_per_second(self) -> float:
        return self.fetched / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds until the end of the list at the rate so far (None: unknown)."""
        done = self.line - self.started_after
        if self.total_lines is None or done <= 0 or self.seconds <= 0:
            return None
        return max(0, self.total_lines - self.line) * self.seconds / done


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillResult:
    """What one backfill run did."""

    report: RunReport
    list_name: str
    started_after: int  # the line it resumed after (0: from the start)
    lines_done: int  # every line up to this one has its outcome stored
    finished: bool  # the end of the list was reached
    bad_lines: tuple[BadLine, ...]  # the first BAD_LINES_KEPT of this run
    bad_line_count: int  # all of this run's


@dataclass(slots=True, kw_only=True)
class _Chunk:
    entries: list[FeedEntry] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    first_line: int = 0
    last_line: int = 0


def _chunks(reader: URLListReader, size: int) -> Iterator[_Chunk]:
    """Consecutive chunks of at most ``size`` URLs, with the bad lines among them.

    A chunk ends on its last URL's line; lines after the last URL of the list (bad
    ones, comments) form a last chunk without URLs.
    """
    chunk = _Chunk(first_line=reader.start_after + 1)
    for item in reader:
        if isinstance(item, ListedURL):
            chunk.entries.append(FeedEntry(url=item.url))
        else:
            chunk.bad.append(item)
        if len(chunk.entries) >= size:
            chunk.last_line = reader.lines_read
            yield chunk
            chunk = _Chunk(first_line=reader.lines_read + 1)
    chunk.last_line = reader.lines_read
    if chunk.last_line >= chunk.first_line:
        yield chunk


def run_backfill(
    ingestor: Ingestor,
    progress: BackfillStore,
    source: SourceConfig,
    url_list: URLList,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    restart: bool = False,
    stop: threading.Event | None = None,
    on_progress: Callable[[BackfillSnapshot], None] | None = None,
    progress_every: float = 1.0,
) -> BackfillResult:
    """Backfill ``url_list`` into ``source``; see the module docstring.

    ``stop`` ends the backfill after the chunk in hand is fetched and stored (nothing
    fetched is lost); ``ingestor.stop`` ends it sooner, after the batch in hand, and
    that chunk is then read again on resume (its stored URLs are skipped). ``restart``
    forgets the recorded progress and reads the list from its first line.
    ``on_progress`` gets a snapshot every ``progress_every`` seconds and at the end.
    """
    return _Backfill(
        ingestor, progress, source, url_list, chunk_size, stop or threading.Event()
    ).run(restart, on_progress, progress_every)


class _Backfill:
    """One backfill run's state, read by the progress ticker while the loop runs."""

    def __init__(
        self,
        ingestor: Ingestor,
        progress: BackfillStore,
        source: SourceConfig,
        url_list: URLList,
        chunk_size: int,
        stop: threading.Event,
    ) -> None:
        self.ingestor = ingestor
        self.progress = progress
        # A configured source's max_articles caps a scheduled run; here it would drop
        # URLs of a chunk that is then recorded as done, so they would never be fetched.
        self.source = source.model_copy(update={"max_articles": None})
        self.url_list = url_list
        self.chunk_size = chunk_size
        self.stop = stop
        self.clock = time.monotonic()
        self.started_after = 0
        self.counts = RunCounts()
        self.bad_count = 0
        # The chunk being fetched, how many of its URLs were queued, and how many
        # outcomes were stored before it began (its progress is the difference). One
        # tuple, replaced whole, so the ticker thread never sees half of a change.
        self.current: tuple[_Chunk, int, int] = (_Chunk(), 0, 0)

    def run(
        self,
        restart: bool,
        on_progress: Callable[[BackfillSnapshot], None] | None,
        every: float,
    ) -> BackfillResult:
        self.started_after, prior_bad = self._resume_point(restart)
        lines_done = self.started_after
        self.current = (_Chunk(first_line=lines_done + 1, last_line=lines_done), 0, 0)
        finished = False
        kept_bad: list[BadLine] = []
        ticker = _Ticker(lambda: on_progress(self.snapshot()), every) if on_progress else None
        try:
            with self.ingestor.runs([self.source]) as reports:
                report = reports[self.source.id]
                self.counts = report.counts
                reader = URLListReader(
                    self.url_list.lines, start_after=self.started_after, blank_is_bad=True
                )
                for chunk in _chunks(reader, self.chunk_size):
                    self._bad_lines(chunk.bad, kept_bad)
                    requests = self.ingestor.new_requests(self.source, chunk.entries, self.counts)
                    self.current = (chunk, len(requests), sum(_outcomes(self.counts)))
                    if requests:
                        self.ingestor.fetch_and_store(requests, reports)
                    if self.ingestor.stop.is_set():
                        break  # cut short: the chunk is read again on resume
                    lines_done = chunk.last_line
                    prior_bad += len(chunk.bad)
                    self._record(lines_done, prior_bad, finished=False)
                    if self.stop.is_set():
                        break
                else:
                    finished = True
                    lines_done = max(lines_done, reader.lines_read)
                    self._record(lines_done, prior_bad, finished=True)
                if not finished and report.status == "ok":
                    report.status = "interrupted"
        finally:
            if ticker is not None:
                ticker.close()
        if on_progress is not None:
            on_progress(self.snapshot())
        return BackfillResult(
            report=report,
            list_name=self.url_list.name,
            started_after=self.started_after,
            lines_done=lines_done,
            finished=finished,
            bad_lines=tuple(kept_bad),
            bad_line_count=self.bad_count,
        )

    def snapshot(self) -> BackfillSnapshot:
        """The figures so far (called from the ticker thread while the loop runs)."""
        c = self.counts
        stored, failures = _outcomes(c)
        chunk, queued, handled_before = self.current
        line = chunk.first_line - 1
        if chunk.last_line >= chunk.first_line:
            handled = stored + failures - handled_before
            share = min(1.0, handled / queued) if queued else 1.0
            line += round(share * (chunk.last_line - line))
        return BackfillSnapshot(
            line=line,
            started_after=self.started_after,
            total_lines=self.url_list.total_lines,
            fetched=c.fetched,
            stored=stored,
            already_stored=c.found - c.new,
            failed=failures,
            bad_lines=self.bad_count,
            seconds=time.monotonic() - self.clock,
        )

    # -- helpers -------------------------------------------------------------------------

    def _resume_point(self, restart: bool) -> tuple[int, int]:
        """The line to start after and the bad lines before it."""
        key = self.url_list.key
        if key is None:
            return 0, 0
        if restart:
            if self.progress.forget(key):
                logger.info("backfill of %s: progress forgotten, reading from line 1", key)
            return 0, 0
        done = self.progress.progress(key)
        if done is None:
            return 0, 0
        total = self.url_list.total_lines
        if total is not None and total < done.lines_done:
            raise ConfigError(
                f"{self.url_list.name} has {total} lines, but an earlier backfill of it "
                f"handled {done.lines_done}: the file changed; run with --restart to read "
                "it from the first line"
            )
        logger.info(
            "backfill of %s: resuming after line %d (%d bad lines before it)",
            key,
            done.lines_done,
            done.bad_lines,
        )
        return done.lines_done, done.bad_lines

    def _bad_lines(self, bad: list[BadLine], kept: list[BadLine]) -> None:
        for line in bad:
            logger.debug(
                "%s line %d: %r is not a URL (%s)",
                self.url_list.name,
                line.line_no,
                line.text,
                line.why,
            )
        self.counts.failed[BAD_LINE_REASON] += len(bad)
        self.bad_count += len(bad)
        kept.extend(bad[: BAD_LINES_KEPT - len(kept)])

    def _record(self, lines_done: int, bad_lines: int, *, finished: bool) -> None:
        if self.url_list.key is None:
            return  # stdin: nothing to resume by line number
        self.progress.record(
            self.url_list.key,
            source_id=self.source.id,
            path=self.url_list.name,
            lines_done=lines_done,
            bad_lines=bad_lines,
            finished=finished,
        )


def _outcomes(counts: RunCounts) -> tuple[int, int]:
    """Stored outcomes so far: (documents stored, updated or unchanged; failed or skipped).

    Bad lines are not outcomes of a fetch, so they are left out.
    """
    # The writer thread updates the counters meanwhile: copy them first (a dict copy
    # is one C call under the GIL), so no iteration sees them change size.
    failed, skipped = dict(counts.failed), dict(counts.skipped)
    failures = sum(failed.values()) - failed.get(BAD_LINE_REASON, 0) + sum(skipped.values())
    return counts.stored + counts.updated + counts.unchanged, failures


class _Ticker:
    """Calls ``tick`` every ``every`` seconds on a daemon thread until closed."""

    def __init__(self, tick: Callable[[], None], every: float) -> None:
        self._tick = tick
        self._every = every
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="backfill-progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._closed.wait(self._every):
            self._tick()

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
