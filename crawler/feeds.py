"""Feeds: poll with a conditional GET and parse RSS, Atom and JSON Feed into entries.

``poll_feed`` downloads with :func:`crawler.http.download` (streamed, size-capped,
gzip inflated by us so a compression bomb cannot allocate more than the cap) and
``parse_feed`` turns the bytes into :class:`~crawler.records.FeedEntry` records with
canonical URLs.

feedparser always gets the bytes wrapped in a stream, never the bytes themselves:
given ``bytes`` it first tries ``open(body)`` as a *file name*, so a hostile body
such as ``b"/etc/passwd"`` would be read from the local disk. feedparser 6 strips
``<!ENTITY`` declarations from the DOCTYPE and parses with external entities off,
so entity-expansion bombs ("billion laughs") leave the entity references
unexpanded instead of exhausting memory (tested).
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx

from crawler.errors import FeedError
from crawler.http import download
from crawler.records import FeedEntry, FeedPoll
from crawler.settings import CrawlSettings
from crawler.urls import canonical_or_none

__all__ = ["FEED_ACCEPT", "parse_feed", "poll_feed"]

logger = logging.getLogger(__name__)

_JSON_FEED_VERSION = "https://jsonfeed.org/version/"
# What a feed poll accepts (also sent when discovery probes for feeds).
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, */*;q=0.8"
)


# -- parsing -------------------------------------------------------------------------


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> list[FeedEntry]:
    """Parse an RSS, Atom or JSON Feed body into entries with canonical, unique URLs.

    ``url`` is the feed's own (final) URL: relative entry links resolve against it.
    Raises :class:`FeedError` with reason ``malformed`` when the body is not a feed.
    """
    if _looks_like_json(body, content_type):
        entries = _json_feed_entries(body, url)
    else:
        entries = _xml_feed_entries(body, url, content_type)
    return _unique(entries)


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _xml_feed_entries(body: bytes, url: str, content_type: str | None) -> Iterator[FeedEntry]:
    """Entries of an RSS 0.9x/1.0/2.0 or Atom feed, via feedparser."""
    headers = {"content-location": url}
    if content_type:
        # feedparser sniffs the encoding from the HTTP charset, the XML declaration
        # and the BOM together, so it needs the response's Content-Type.
        headers["content-type"] = content_type
    parsed: Any = feedparser.parse(io.BytesIO(body), response_headers=headers)
    feed = parsed.get("feed", {})
    version = parsed.get("version") or ""
    if not parsed.entries and (not version or (parsed.bozo and not feed.get("title"))):
        raise FeedError(url, "malformed", str(parsed.get("bozo_exception") or "not a feed"))
    if parsed.bozo:
        logger.debug(
            "feed %s is not well-formed, parsed leniently: %s", url, parsed.get("bozo_exception")
        )
    language = _text(feed.get("language"))
    for item in parsed.entries:
        link = _entry_link(item)
        entry_url = canonical_or_none(link, url)
        if entry_url is None:
            logger.debug("feed %s: skipping an entry without a usable link (%r)", url, link)
            continue
        yield FeedEntry(
            url=entry_url,
            title=_text(item.get("title")),
            published_at=_struct_time_utc(
                item.get("published_parsed") or item.get("updated_parsed")
            ),
            authors=_feedparser_authors(item),
            language=_text(item.get("language")) or language,
        )


def _entry_link(item: Any) -> str | None:
    """The article link of a feedparser entry: link, an alternate link, or a permalink id."""
    link = item.get("link")
    if link:
        return str(link)
    for candidate in item.get("links", ()):
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return str(candidate["href"])
    if item.get("guidislink") and item.get("id"):
        return str(item["id"])
    return None


def _feedparser_authors(item: Any) -> tuple[str, ...]:
    names = [_text(a.get("name")) for a in item.get("authors", ()) if isinstance(a, Mapping)]
    found = tuple(n for n in names if n)
    if not found and _text(item.get("author")):
        found = (str(item["author"]).strip(),)
    return found


def _struct_time_utc(value: time.struct_time | None) -> datetime | None:
    """feedparser's parsed dates are UTC struct_times; make them tz-aware datetimes."""
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _json_feed_entries(body: bytes, url: str) -> Iterator[FeedEntry]:
    """Entries of a JSON Feed 1.0 or 1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(body)  # bytes: json detects UTF-8/16/32 itself
    except (ValueError, RecursionError) as exc:
        raise FeedError(url, "malformed", f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(_JSON_FEED_VERSION):
        raise FeedError(url, "malformed", "JSON without a jsonfeed.org version")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedError(url, "malformed", "JSON Feed without an items list")
    language = _text(doc.get("language"))
    for item in items:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        entry_url = canonical_or_none(link if isinstance(link, str) else None, url)
        if entry_url is None:
            logger.debug("feed %s: skipping an item without a usable url (%r)", url, link)
            continue
        yield FeedEntry(
            url=entry_url,
            title=_text(item.get("title")),
            published_at=_iso_utc(item.get("date_published") or item.get("date_modified")),
            authors=_json_authors(item),
            language=_text(item.get("language")) or language,
        )


def _json_authors(item: Mapping[str, Any]) -> tuple[str, ...]:
    """Author names from ``authors`` (1.1) or ``author`` (1.0)."""
    raw = item.get("authors")
    if not isinstance(raw, list):
        raw = [item.get("author")]
    names = (_text(a.get("name")) for a in raw if isinstance(a, dict))
    return tuple(n for n in names if n)


def _iso_utc(value: object) -> datetime | None:
    """An RFC 3339 date as a tz-aware UTC datetime (naive dates are taken as UTC)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _unique(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
    """Keep the first entry of each URL, in feed order."""
    seen: dict[str, FeedEntry] = {}
    for entry in entries:
        seen.setdefault(entry.url, entry)
    return list(seen.values())


# -- polling -------------------------------------------------------------------------


def poll_feed(
    source: str,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    settings: CrawlSettings,
    client: httpx.Client | None = None,
) -> FeedPoll:
    """Fetch a feed with a conditional GET and parse it; 304 gives no entries.

    Raises :class:`FeedError` (reason ``http_<status>``, ``timeout``, ``connection``,
    ``too_large``, ``redirect_loop``, ``bad_redirect``, ``bad_url`` or ``malformed``).
    An injected ``client`` keeps its own ``max_redirects`` and is not closed.
    """
    got = download(
        url,
        settings=settings,
        max_bytes=settings.max_feed_bytes,
        error=FeedError,
        accept=FEED_ACCEPT,
        etag=etag,
        last_modified=last_modified,
        client=client,
    )
    if got.not_modified:
        logger.debug("feed %s (%s): not modified", url, source)
        return FeedPoll(
            source=source,
            url=url,
            status=304,
            etag=got.etag,
            last_modified=got.last_modified,
        )
    entries = parse_feed(got.body, url=got.final_url, content_type=got.content_type)
    logger.debug("feed %s (%s): %d entries", url, source, len(entries))
    return FeedPoll(
        source=source,
        url=url,
        status=got.status,
        etag=got.etag,
        last_modified=got.last_modified,
        entries=tuple(entries),
    )
