"""Frozen records the crawler hands to the rest of the system."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEntry:
    """One item of a feed or sitemap: an article URL and what the feed says of it."""

    url: str  # absolute, canonicalised article URL
    title: str | None = None
    published_at: datetime | None = None  # tz-aware UTC
    authors: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedPoll:
    """The outcome of one conditional GET of a feed."""

    source: str
    url: str  # the feed URL polled
    status: int  # 200, or 304 when nothing changed
    etag: str | None
    last_modified: str | None
    entries: tuple[FeedEntry, ...] = ()  # empty on 304

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True, kw_only=True)
class PageRequest:
    """An article URL to fetch, with the feed's metadata carried along as hints."""

    url: str
    source: str
    hint: FeedEntry | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchedPage:
    """A page the fetcher downloaded successfully (2xx, HTML)."""

    url: str  # the URL that was requested
    final_url: str  # after redirects
    source: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes
    encoding: str | None  # as Scrapy detected it
    fetched_at: datetime  # tz-aware UTC
    hint: FeedEntry | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchFailure:
    """A URL that could not be fetched as an article, with a short reason code.

    Reason codes: ``http_<status>``, ``timeout``, ``connection``, ``dns``,
    ``robots_disallowed``, ``not_html``, ``too_large``, ``redirect_loop``,
    ``bad_redirect``, ``crawler_crashed``, ``error``.
    """

    url: str
    source: str
    reason: str
    detail: str
    status: int | None
    fetched_at: datetime
    hint: FeedEntry | None = None


FetchResult = FetchedPage | FetchFailure

# Reasons that mean "deliberately not an article" rather than "went wrong": they are
# recorded as skipped, never retried, and do not count against a source's health.
SKIP_REASONS = frozenset({"not_html", "robots_disallowed"})
