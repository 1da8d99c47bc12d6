"""Feeds: poll with a conditional GET and parse RSS, Atom and JSON Feed into entries.

``poll_feed`` downloads with httpx (streamed, size-capped, gzip inflated by us so a
compression bomb cannot allocate more than the cap) and ``parse_feed`` turns the
bytes into :class:`~crawler.records.FeedEntry` records with canonical URLs.

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
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx

from crawler.errors import BadURLError, FeedError
from crawler.records import FeedEntry, FeedPoll
from crawler.settings import CrawlSettings
from crawler.urls import canonical_url

__all__ = ["parse_feed", "poll_feed"]

logger = logging.getLogger(__name__)

_JSON_FEED_VERSION = "https://jsonfeed.org/version/"


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
        entry_url = _canonical_or_none(link, url)
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
        entry_url = _canonical_or_none(link if isinstance(link, str) else None, url)
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


def _canonical_or_none(link: str | None, base: str) -> str | None:
    if not link:
        return None
    try:
        return canonical_url(link, base)
    except BadURLError:
        return None


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
    headers = {
        "User-Agent": settings.user_agent,
        # Only encodings _inflate can cap; httpx would add br/zstd otherwise.
        "Accept-Encoding": "gzip, deflate",
        "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
        "application/json;q=0.9, application/xml;q=0.9, */*;q=0.8",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own_client = client is None
    http = client or httpx.Client(max_redirects=settings.max_redirects)
    # httpx's timeout bounds each read, not the whole answer: a server trickling one
    # byte per second would hold the poll for as long as it likes. This bounds it all.
    deadline = time.monotonic() + settings.timeout
    try:
        with (
            _converted_errors(url),
            http.stream(
                "GET", url, headers=headers, timeout=settings.timeout, follow_redirects=True
            ) as response,
        ):
            if response.status_code == 304:
                logger.debug("feed %s (%s): not modified", url, source)
                return FeedPoll(
                    source=source,
                    url=url,
                    status=304,
                    etag=response.headers.get("etag") or etag,
                    last_modified=response.headers.get("last-modified") or last_modified,
                )
            if not 200 <= response.status_code < 300:
                raise FeedError(url, f"http_{response.status_code}")
            body = _read_capped(response, url, settings.max_feed_bytes, deadline)
            final_url = str(response.url)
            content_type = response.headers.get("content-type")
            new_etag = response.headers.get("etag")
            new_last_modified = response.headers.get("last-modified")
            status = response.status_code
    finally:
        if own_client:
            http.close()
    entries = parse_feed(body, url=final_url, content_type=content_type)
    logger.debug("feed %s (%s): %d entries", url, source, len(entries))
    return FeedPoll(
        source=source,
        url=url,
        status=status,
        etag=new_etag,
        last_modified=new_last_modified,
        entries=tuple(entries),
    )


@contextmanager
def _converted_errors(url: str) -> Iterator[None]:
    """Turn httpx errors into FeedError where they enter."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise FeedError(url, _httpx_reason(exc), str(exc) or type(exc).__name__) from exc


def _httpx_reason(exc: Exception) -> str:
    """The FeedError reason code for an httpx exception."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TooManyRedirects):
        return "redirect_loop"
    if isinstance(exc, httpx.UnsupportedProtocol):
        # The configured URL was checked at load time, so this is a redirect to ftp: etc.
        return "bad_redirect"
    if isinstance(exc, httpx.InvalidURL):
        return "bad_url"
    if isinstance(exc, httpx.DecodingError):
        return "malformed"
    if isinstance(exc, httpx.TransportError):
        return "connection"
    return "error"


def _read_capped(response: httpx.Response, url: str, cap: int, deadline: float) -> bytes:
    """Read the body, inflating gzip/deflate ourselves, failing beyond ``cap`` bytes
    or past ``deadline`` (``time.monotonic()``)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise FeedError(url, "too_large", f"Content-Length {declared} > {cap} bytes")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflater = _inflater(encoding, url)
    out = bytearray()
    for chunk in response.iter_raw():
        if inflater is None:
            out += chunk
        else:
            # max_length bounds each step, so a 1000:1 bomb never allocates past the cap.
            out += inflater.decompress(chunk, cap - len(out) + 1)
        if len(out) > cap:
            raise FeedError(url, "too_large", f"body larger than {cap} bytes")
        if time.monotonic() > deadline:
            raise FeedError(url, "timeout", "the body did not arrive within the timeout")
    if inflater is not None:
        out += inflater.flush()
        if len(out) > cap:
            raise FeedError(url, "too_large", f"body larger than {cap} bytes")
    return bytes(out)


def _inflater(encoding: str, url: str) -> _Inflater | None:
    """A capped decompressor for the Content-Encoding, or None for identity."""
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Inflater(url)
    raise FeedError(url, "malformed", f"unsupported Content-Encoding {encoding!r}")


class _Inflater:
    """A gzip/zlib decompressor whose errors are FeedErrors."""

    def __init__(self, url: str) -> None:
        # 32 + MAX_WBITS: zlib detects a gzip or a zlib header by itself.
        self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)
        self._url = url

    def decompress(self, data: bytes, max_length: int) -> bytes:
        """Inflate ``data``, producing at most ``max_length`` bytes (the caller then stops)."""
        try:
            return self._zlib.decompress(data, max_length)
        except zlib.error as exc:
            raise FeedError(self._url, "malformed", f"bad compressed body: {exc}") from exc

    def flush(self) -> bytes:
        """What is left once the input has ended."""
        try:
            return self._zlib.flush()
        except zlib.error as exc:
            raise FeedError(self._url, "malformed", f"bad compressed body: {exc}") from exc
