"""The Scrapy side of fetching: settings, the article spider and the child's main.

Everything here runs inside the crawler child process started by
:func:`crawler.fetch.fetch_pages`. Results go back to the parent over a pipe as
``("result", index, record)`` messages, then one ``("done", "")`` or
``("crashed", traceback)``. A sender thread owns the pipe, so a parent that is busy
extracting pages never blocks the reactor (and with it every download in flight).
:func:`run_spider` runs any spider that way: the list spider here, or the site
spider of :mod:`crawler.sitecrawl`, which may also ask the parent questions.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response, TextResponse
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.middlewares import BACKOFF_SETTING
from crawler.outcomes import (
    failure_from_exception,
    flatten_headers,
    now_utc,
    result_from_response,
)
from crawler.records import FetchFailure, FetchResult, PageRequest
from crawler.settings import CrawlSettings

__all__ = [
    "ArticleSpider",
    "Emit",
    "Message",
    "ParentQueries",
    "run_crawl",
    "run_spider",
    "scrapy_settings",
]

logger = logging.getLogger(__name__)

# ("result", index, record), ("ask", query id, URLs), or the last word ("done" |
# "crashed", note); the parent answers an ask with ("known", query id, URLs).
Message = tuple[str, int, FetchResult] | tuple[str, int, list[str]] | tuple[str, str]
Emit = Callable[[int, FetchResult], None]

_INDEX = "newsingest_index"  # request meta key; survives retries and redirects
_RETRY_CODES = [500, 502, 503, 504, 522, 524, 408, 429]


def scrapy_settings(settings: CrawlSettings) -> dict[str, Any]:
    """The Scrapy settings for one crawl under ``settings``."""
    return {
        "ROBOTSTXT_OBEY": settings.obey_robots,
        "USER_AGENT": settings.user_agent,
        "CONCURRENT_REQUESTS": settings.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrency_per_domain,
        "DOWNLOAD_DELAY": settings.delay,
        "AUTOTHROTTLE_ENABLED": settings.autothrottle,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(settings.concurrency_per_domain),
        # The default start delay is 5 s; start from our own politeness delay instead.
        "AUTOTHROTTLE_START_DELAY": settings.delay,
        "DOWNLOAD_TIMEOUT": settings.timeout,
        "DNS_TIMEOUT": settings.timeout,
        "RETRY_ENABLED": settings.retries > 0,
        "RETRY_TIMES": settings.retries,
        "RETRY_HTTP_CODES": _RETRY_CODES,
        # A URL that fails after its retries becomes a FetchFailure record, which the
        # caller logs and counts; an ERROR line per URL would only be noise.
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        BACKOFF_SETTING: settings.retry_backoff,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.BackoffRetryMiddleware": 550,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.middlewares.SharedRobotsTxtMiddleware": 100,
        },
        # Also bounds the inflated size of a gzip/deflate/br body (HttpCompression).
        "DOWNLOAD_MAXSIZE": settings.max_page_bytes,
        "DOWNLOAD_WARNSIZE": max(settings.max_page_bytes // 2, 1),
        "REDIRECT_ENABLED": settings.max_redirects > 0,
        "REDIRECT_MAX_TIMES": settings.max_redirects,
        "LOG_LEVEL": "WARNING",
        "LOG_INSTALL_ROOT_HANDLER": True,  # the child has no other logging set up
        "TELNETCONSOLE_ENABLED": False,
        # Dedup happens upstream; offsite filtering is off because no spider
        # attribute allowed_domains is set, so every host is allowed.
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        "COOKIES_ENABLED": True,  # in memory, for this run only
        # The spider yields no items (results go down the pipe), but Scrapy 2.13+
        # still starts CONCURRENT_ITEMS asyncio tasks per callback to process its
        # output: 100 tasks per page, about a third of the fetcher's CPU.
        "CONCURRENT_ITEMS": 1,
    }


class ArticleSpider(scrapy.Spider):
    """Fetches a fixed list of article URLs and emits one record per URL."""

    name = "newsingest_articles"

    def __init__(self, *, jobs: Sequence[PageRequest], emit: Emit, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs = list(jobs)
        self.emit = emit

    async def start(self) -> AsyncIterator[Any]:
        """One request per job, unfiltered, carrying its index through redirects."""
        for index, job in enumerate(self.jobs):
            try:
                request = scrapy.Request(
                    job.url,
                    callback=self.on_response,
                    errback=self.on_failure,
                    dont_filter=True,
                    meta={_INDEX: index},
                )
            except ValueError as exc:  # not a URL Scrapy can request
                self.emit(
                    index,
                    FetchFailure(
                        url=job.url,
                        source=job.source,
                        reason="error",
                        detail=str(exc),
                        status=None,
                        fetched_at=now_utc(),
                        hint=job.hint,
                    ),
                )
                continue
            yield request

    def on_response(self, response: Response) -> None:
        """A 2xx response (HttpErrorMiddleware filters the rest)."""
        index = int(response.meta[_INDEX])
        encoding = response.encoding if isinstance(response, TextResponse) else None
        self.emit(
            index,
            result_from_response(
                self.jobs[index],
                final_url=response.url,
                status=response.status,
                headers=flatten_headers(response.headers),
                body=response.body,
                encoding=encoding,
            ),
        )

    def on_failure(self, failure: Failure) -> None:
        """A download error, an HttpError or an IgnoreRequest for one of our requests."""
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        index = int(request.meta[_INDEX])
        exc = failure.value
        assert isinstance(exc, BaseException)
        self.emit(index, failure_from_exception(self.jobs[index], exc))


def run_crawl(jobs: Sequence[PageRequest], settings: CrawlSettings, conn: Connection) -> None:
    """The crawler child's main: crawl ``jobs`` and send each result down ``conn``."""
    run_spider(conn, scrapy_settings(settings), ArticleSpider, {"jobs": jobs})


def run_spider(
    conn: Connection,
    settings: dict[str, Any],
    spider: type[scrapy.Spider],
    kwargs: dict[str, Any],
    *,
    asks: bool = False,
) -> None:
    """Run one ``spider`` in this (child) process, sending its messages down ``conn``.

    The spider gets ``emit(index, record)`` besides ``kwargs``; with ``asks`` it
    also gets ``ask(urls)``, which asks the parent which of ``urls`` it already has
    (see :class:`ParentQueries`).
    """
    # Ctrl-C in a terminal signals the whole process group; the parent decides when
    # to stop (it closes the generator, which terminates us), so the page in flight
    # is not lost to a KeyboardInterrupt here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
    sender = threading.Thread(target=_send_all, args=(outbox, conn), name="result-sender")
    sender.start()
    try:
        process = CrawlerProcess(settings)
        extra: dict[str, Any] = {}
        if asks:
            extra["ask"] = ParentQueries(conn, outbox).ask
        process.crawl(
            spider,
            emit=lambda index, record: outbox.put(("result", index, record)),
            **kwargs,
            **extra,
        )
        # No signal handlers: the parent stops us with SIGTERM and means it at once.
        process.start(install_signal_handlers=False)
        outbox.put(("done", ""))
    except BaseException:
        outbox.put(("crashed", traceback.format_exc(limit=20)))
        raise
    finally:
        outbox.put(None)
        sender.join()
        conn.close()


class ParentQueries:
    """Questions from the spider to the parent over the (duplex) result pipe.

    ``ask(urls)`` sends ``("ask", query_id, urls)`` and returns a Deferred that fires
    with the set the parent answers in ``("known", query_id, urls)``. A reader
    thread waits for the answers, so the reactor never blocks on the pipe; it hands
    each answer to the reactor thread with ``callFromThread``.
    """

    def __init__(self, conn: Connection, outbox: queue.SimpleQueue[Message | None]) -> None:
        self._outbox = outbox
        self._waiting: dict[int, Deferred[set[str]]] = {}
        self._next_id = 0
        reader = threading.Thread(target=self._read, args=(conn,), name="answer-reader")
        reader.daemon = True  # blocked in recv() until the parent closes the pipe
        reader.start()

    def ask(self, urls: list[str]) -> Deferred[set[str]]:
        """Which of ``urls`` the parent already has (called in the reactor thread)."""
        self._next_id += 1
        answer: Deferred[set[str]] = Deferred()
        self._waiting[self._next_id] = answer
        self._outbox.put(("ask", self._next_id, urls))
        return answer

    def _read(self, conn: Connection) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone; it terminates us next
            if isinstance(message, tuple) and len(message) == 3 and message[0] == "known":
                # Imported here: CrawlerProcess installs its reactor when the crawl
                # starts, and an import before that would install the default one.
                # An answer only comes once a question was asked from the reactor.
                from twisted.internet import reactor

                reactor.callFromThread(self._answer, message[1], set(message[2]))

    def _answer(self, query_id: int, known: set[str]) -> None:
        waiting = self._waiting.pop(query_id, None)
        if waiting is not None:
            waiting.callback(known)


def _send_all(outbox: queue.SimpleQueue[Message | None], conn: Connection) -> None:
    """Send messages until the None sentinel; stop quietly if the parent went away."""
    while (message := outbox.get()) is not None:
        try:
            conn.send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            logger.warning("crawler parent closed the result pipe; dropping results")
            return
