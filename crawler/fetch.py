"""Fetch article pages with Scrapy in a child process, streaming results back.

Scrapy runs on Twisted, whose reactor cannot be restarted in a process, so each
call of :func:`fetch_pages` spawns a fresh child for one crawl. The child also
bounds memory over weeks of runs and keeps a crash (or a hang) from taking the
caller down. Results stream back as they arrive, so the caller can extract pages
while others are still downloading.

The child is started with the ``spawn`` method: the program that calls
``fetch_pages`` must guard its entry point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from multiprocessing.process import BaseProcess
from typing import Any

from crawler.outcomes import crashed
from crawler.records import FetchResult, PageRequest
from crawler.settings import CrawlSettings
from crawler.spider import Message, run_crawl

__all__ = ["CrawlerChild", "default_idle_timeout", "fetch_pages"]

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.2  # how often the parent checks that the child is alive
_EXIT_GRACE_SECONDS = 5.0  # how long a child that answered everything may take to exit
_STARTUP_SECONDS = 60.0  # importing Scrapy and starting the reactor, on a slow box


def default_idle_timeout(settings: CrawlSettings) -> float:
    """How long to wait for the next result before declaring the crawler hung.

    The slowest a single answer can honestly be: robots.txt and then the page, each
    with every retry timing out and every back-off, plus the longest politeness
    delay, plus start-up time.
    """
    attempts = settings.retries + 1
    backoffs = settings.retry_backoff * float(2**settings.retries - 1)
    one_url = attempts * settings.timeout + backoffs
    # AutoThrottle may stretch the per-domain delay up to its 60 s default maximum.
    max_delay = max(settings.delay, 60.0 if settings.autothrottle else 0.0)
    return 2 * one_url + max_delay + _STARTUP_SECONDS


def fetch_pages(
    requests: Sequence[PageRequest],
    settings: CrawlSettings,
    *,
    idle_timeout: float | None = None,
) -> Generator[FetchResult, None, None]:
    """Fetch ``requests`` with Scrapy in a child process, yielding results as they arrive.

    Every request yields exactly one :class:`~crawler.records.FetchedPage` or
    :class:`~crawler.records.FetchFailure`, in completion order. If the child dies,
    or sends nothing for ``idle_timeout`` seconds (default
    :func:`default_idle_timeout`), the unanswered requests yield failures with
    reason ``crawler_crashed``. Closing the generator early stops the child; the
    child is always reaped.
    """
    jobs = list(requests)
    if not jobs:
        return
    limit = idle_timeout if idle_timeout is not None else default_idle_timeout(settings)
    child = CrawlerChild(run_crawl, (jobs, settings), what=f"{len(jobs)} URLs")
    pending = set(range(len(jobs)))
    try:
        for index, record in child.results(limit):
            if index in pending:  # the first answer wins; never two per URL
                pending.discard(index)
                yield record
                if not pending:
                    break
        if pending:
            why = child.why_stopped()
            logger.warning(
                "crawler child %s left %d of %d URLs unanswered: %s",
                child.pid,
                len(pending),
                len(jobs),
                why,
            )
            for index in sorted(pending):
                yield crashed(jobs[index], why)
            pending.clear()
    finally:
        # Unanswered URLs here mean the consumer closed the generator early.
        child.reap(graceful=not pending)


class CrawlerChild:
    """A crawler child process running ``target(*args, conn)``, and our end of its pipe.

    With ``answer``, the pipe is duplex and the child may ask questions: each
    ``("ask", query_id, urls)`` it sends is answered, while results are read, with
    ``("known", query_id, answer(urls))``.
    """

    def __init__(
        self,
        target: Callable[..., None],
        args: tuple[Any, ...],
        *,
        what: str,
        answer: Callable[[list[str]], Collection[str]] | None = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, sender = context.Pipe(duplex=answer is not None)
        self._answer = answer
        self._process: BaseProcess = context.Process(
            target=target,
            args=(*args, sender),
            name="newsingest-crawler",
            daemon=True,
        )
        self._process.start()
        # Only the child writes: closing our copy lets recv() see EOF when it dies.
        sender.close()
        self.pid = self._process.pid
        self._ending = "running"  # running, done, crashed, hung or died
        self._note = ""
        logger.debug("crawler child %s started for %s", self.pid, what)

    @property
    def ending(self) -> str:
        """How the child ended: running, done, crashed, hung or died."""
        return self._ending

    def results(self, limit: float) -> Iterator[tuple[int, FetchResult]]:
        """Yield (index, record) as they come, until the child ends, dies or hangs.

        The idle clock runs only while we wait: time the consumer spends between two
        ``next()`` calls is not the child's fault (its answers queue up meanwhile).
        """
        while (message := self._next_message(time.monotonic() + limit)) is not None:
            if message[0] == "result" and len(message) == 3:
                yield message[1], message[2]  # type: ignore[misc]  # a FetchResult
            elif message[0] == "ask" and len(message) == 3 and self._answer is not None:
                urls: list[str] = message[2]  # type: ignore[assignment]
                try:
                    self._conn.send(("known", message[1], sorted(self._answer(urls))))
                except OSError:  # BrokenPipeError: the child died; the next read sees it
                    continue
            elif len(message) == 2:  # ("done" | "crashed", note): the last word
                self._ending, self._note = message[0], message[1]
                return

    def _next_message(self, deadline: float) -> Message | None:
        """The next message, or None once the child is gone or silent past the deadline."""
        while True:
            try:
                if self._conn.poll(_POLL_SECONDS):
                    message: Message = self._conn.recv()
                    return message
            except (EOFError, OSError):
                self._ending = "died"  # exited (maybe mid-message), pipe closed
                return None
            if not self._process.is_alive() and not self._conn.poll(0):
                self._ending = "died"
                return None
            if time.monotonic() > deadline:
                self._ending = "hung"
                return None

    def why_stopped(self) -> str:
        """One sentence saying why the child stopped answering."""
        if self._ending == "hung":
            return "the crawler process stopped answering and was stopped"
        if self._ending == "crashed":
            lines = self._note.strip().splitlines()
            return f"the crawler process failed: {lines[-1] if lines else 'unknown error'}"
        if self._ending == "done":
            return "the crawl ended without answering this URL"
        self._process.join(timeout=1)
        return f"the crawler process exited unexpectedly (exit code {self._process.exitcode})"

    def reap(self, *, graceful: bool) -> None:
        """Make sure the child is gone: let a finished crawl exit, stop anything else."""
        if graceful and self._ending in ("running", "done"):
            # A crawl that answered everything shuts Scrapy down within a second or so.
            self._process.join(timeout=_EXIT_GRACE_SECONDS)
        if self._process.is_alive():
            logger.debug("stopping crawler child %s", self.pid)
            self._process.terminate()
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
        self._process.close()
