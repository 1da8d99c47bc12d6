"""Scrapy downloader middlewares of the crawler: back-off retries, a robots.txt fix."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypeVar

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Request, Response
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser
    from scrapy.settings import BaseSettings

__all__ = ["BACKOFF_SETTING", "BackoffRetryMiddleware", "SharedRobotsTxtMiddleware"]

logger = logging.getLogger(__name__)

_R = TypeVar("_R", bound=Request | Response | None)

BACKOFF_SETTING = "NEWSINGEST_RETRY_BACKOFF"  # seconds before the first retry


class BackoffRetryMiddleware(RetryMiddleware):
    """RetryMiddleware that waits ``backoff * 2**(n-1)`` seconds before the n-th retry.

    Scrapy's RetryMiddleware re-queues a failed request at once, which hammers a
    server that is down or rate-limiting us. Since Scrapy 2.13 middleware methods
    may be coroutines, so the wait is an ``await`` on a timer (asyncio or
    ``deferLater``): the reactor keeps serving every other download meanwhile, and
    the waiting request holds no per-domain slot (only one of CONCURRENT_REQUESTS).
    ``time.sleep`` here would freeze the whole crawl.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat(BACKOFF_SETTING, 0.0)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        """Retry a response with a retryable status, after the back-off."""
        return await self._after_backoff(super().process_response(request, response))

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        """Retry a retryable download error, after the back-off."""
        return await self._after_backoff(super().process_exception(request, exception))

    async def _after_backoff(self, result: _R) -> _R:
        if isinstance(result, Request) and self.backoff > 0:
            attempt = int(result.meta.get("retry_times", 1))
            delay = self.backoff * 2 ** (attempt - 1)
            logger.debug("backing off %.2fs before retry %d of %s", delay, attempt, result.url)
            await sleep(delay)
        return result


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """RobotsTxtMiddleware whose every waiting request sees the parsed robots.txt.

    In Scrapy 2.19 the requests that arrive while a host's robots.txt is still
    downloading all await one shared Deferred through ``asFuture``, whose callback
    returns None: only the first waiter gets the parser, the others get None and
    are let through as if there were no robots.txt (seen here: five of six
    disallowed URLs fetched). Once the download is done the parser is stored per
    host, so a waiter that got None looks it up there.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        robots_logger = logging.getLogger(RobotsTxtMiddleware.__module__)
        if not any(isinstance(f, _RobotsErrorsAsWarnings) for f in robots_logger.filters):
            robots_logger.addFilter(_RobotsErrorsAsWarnings())

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """The host's robots.txt parser, or None when it has none (or it failed)."""
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(urlparse_cached(request).netloc)
            if stored is not None and not isinstance(stored, Deferred):
                return stored
        return parser


class _RobotsErrorsAsWarnings(logging.Filter):
    """Scrapy logs an unreachable robots.txt at ERROR with a traceback.

    A dead host is an everyday outcome, recorded per URL with its reason when the page
    itself fails; one warning line without the traceback says all there is to say.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True
