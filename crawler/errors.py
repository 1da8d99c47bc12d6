"""Errors raised by the crawler.

    CrawlerError
     ├── FeedError        a feed could not be fetched or parsed (names the feed URL)
     └── FetchError       a page could not be fetched (names the URL)

Third-party errors (httpx, feedparser, Scrapy) are converted where they enter.
"""

from __future__ import annotations


class CrawlerError(Exception):
    """Base class of the crawler's errors."""


class FeedError(CrawlerError):
    """A feed could not be fetched or parsed."""

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        self.url = url
        self.reason = reason        # short code: http_<status>, timeout, connection, malformed, too_large
        self.detail = detail
        super().__init__(f"feed {url}: {reason}" + (f" ({detail})" if detail else ""))


class FetchError(CrawlerError):
    """A page could not be fetched."""

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        self.url = url
        self.reason = reason
        self.detail = detail
        super().__init__(f"{url}: {reason}" + (f" ({detail})" if detail else ""))
