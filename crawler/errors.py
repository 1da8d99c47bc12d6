"""Errors raised by the crawler.

    CrawlerError
     ├── BadURLError      a URL is not an absolute http(s) URL (also a ValueError)
     ├── FeedError        a feed could not be fetched or parsed (names the feed URL)
     ├── SitemapError     a sitemap or robots.txt could not be fetched or parsed (names it)
     └── FetchError       a page could not be fetched (names the URL)

Third-party errors (httpx, feedparser, Scrapy) are converted where they enter.
"""

from __future__ import annotations


class CrawlerError(Exception):
    """Base class of the crawler's errors."""


class BadURLError(CrawlerError, ValueError):
    """A URL could not be parsed, or is not an absolute http(s) URL."""

    def __init__(self, url: str, why: str) -> None:
        self.url = url
        self.why = why
        super().__init__(f"bad URL {url!r}: {why}")


class FeedError(CrawlerError):
    """A feed could not be fetched or parsed.

    Reason codes: ``http_<status>``, ``timeout``, ``connection``, ``malformed``,
    ``too_large``, ``redirect_loop``, ``bad_redirect``, ``bad_url``.
    """

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        self.url = url
        self.reason = reason  # short code, listed in the class docstring
        self.detail = detail
        super().__init__(f"feed {url}: {reason}" + (f" ({detail})" if detail else ""))


class SitemapError(CrawlerError):
    """A sitemap (or the robots.txt that should list sitemaps) could not be read.

    Reason codes: those of :class:`FeedError`, and ``no_sitemap`` (robots.txt lists
    none and ``/sitemap.xml`` is missing) and ``too_deep`` (sitemap indexes nested
    past the limit).
    """

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        self.url = url
        self.reason = reason  # short code, listed in the class docstring
        self.detail = detail
        super().__init__(f"sitemap {url}: {reason}" + (f" ({detail})" if detail else ""))


class FetchError(CrawlerError):
    """A page could not be fetched."""

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        self.url = url
        self.reason = reason
        self.detail = detail
        super().__init__(f"{url}: {reason}" + (f" ({detail})" if detail else ""))
