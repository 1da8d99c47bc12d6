"""Sitemaps: read urlsets and sitemap indexes (gzip or not, Google News tags) into entries.

``poll_sitemaps`` takes a sitemap URL, or a site root / robots.txt URL whose
``Sitemap:`` lines name the sitemaps, follows sitemap indexes and returns the
article URLs as :class:`~crawler.records.FeedEntry` records, newest first:
``news:title``, ``news:publication_date`` and ``news:language`` (Google News
sitemaps) become the entry's title, date and language; ``lastmod`` is not a
publication date, so it only serves the age filter and the order.

Hostile sitemaps are bounded: each file's decompressed size (gzip by magic bytes,
whatever the URL or Content-Type says), how deep indexes nest, how many files one
run reads (a loop of indexes reads each file once) and how many URLs it keeps.
The XML is parsed by lxml without entity expansion or network access; a body that
is not well-formed is parsed leniently, and one that is not a sitemap at all is a
:class:`~crawler.errors.SitemapError` naming its URL.

Scrapy's ``scrapy.utils.sitemap.Sitemap`` keeps only the text of a ``<url>``'s
direct children (so drops the nested Google News tags) and recovers from any
syntax error silently, which is why the parsing is done here; robots.txt is read
by protego, the parser Scrapy's robots middleware uses.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx
from lxml import etree
from protego import Protego

from crawler.errors import SitemapError
from crawler.http import Download, download, gunzip_capped, is_gzip
from crawler.records import FeedEntry
from crawler.settings import CrawlSettings
from crawler.urls import canonical_or_none

__all__ = [
    "SITEMAP_ACCEPT",
    "ParsedSitemap",
    "SitemapFilter",
    "SitemapPoll",
    "parse_sitemap",
    "poll_sitemaps",
    "robots_sitemaps",
    "robots_url",
]

logger = logging.getLogger(__name__)

MAX_DEPTH = 3  # index -> index -> index -> urlset; the protocol allows one level
MAX_FILES = 200  # sitemap files read per run
MAX_ROBOTS_BYTES = 512_000  # Google reads the first 500 KiB of a robots.txt
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/gzip;q=0.8, */*;q=0.5"


# -- records -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SitemapUrl:
    """One ``<url>`` of a urlset: the entry, and its lastmod for filtering."""

    entry: FeedEntry
    lastmod: datetime | None = None

    @property
    def newest_date(self) -> datetime | None:
        """The later of lastmod and the news publication date (None without either)."""
        dates = [d for d in (self.lastmod, self.entry.published_at) if d is not None]
        return max(dates) if dates else None


@dataclass(frozen=True, slots=True, kw_only=True)
class SitemapLink:
    """One ``<sitemap>`` of a sitemap index."""

    url: str
    lastmod: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedSitemap:
    """What one sitemap file holds: URLs (a urlset) or sitemaps (an index)."""

    url: str
    kind: Literal["urlset", "sitemapindex"]
    urls: tuple[SitemapUrl, ...] = ()
    sitemaps: tuple[SitemapLink, ...] = ()
    bad_urls: int = 0  # <loc>s that are not http(s) URLs, skipped


@dataclass(frozen=True, slots=True, kw_only=True)
class SitemapFilter:
    """Which entries a source keeps: URL patterns (searched) and a date cutoff."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    since: datetime | None = None  # tz-aware; entries dated only before it are dropped

    @classmethod
    def of(
        cls,
        *,
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        max_age: timedelta | None = None,
        lastmod_after: datetime | None = None,
        now: datetime | None = None,
    ) -> SitemapFilter:
        """The filter for a source's settings; the later of the two cutoffs wins."""
        cutoffs = []
        if max_age is not None:
            cutoffs.append((now or datetime.now(UTC)) - max_age)
        if lastmod_after is not None:
            cutoffs.append(_utc(lastmod_after))
        return cls(allow=tuple(allow), deny=tuple(deny), since=max(cutoffs, default=None))

    def keeps_url(self, url: str) -> bool:
        """A URL must match one allow pattern (when any) and no deny pattern."""
        if self.allow and not any(re.search(p, url) for p in self.allow):
            return False
        return not any(re.search(p, url) for p in self.deny)

    def keeps_date(self, date: datetime | None) -> bool:
        """Undated entries are kept: only what is known to be old is dropped."""
        return self.since is None or date is None or date >= self.since


@dataclass(frozen=True, slots=True, kw_only=True)
class SitemapPoll:
    """The outcome of reading one sitemap source."""

    source: str
    url: str  # as configured
    status: int  # of the top sitemap: 200, or 304 when it had not changed
    etag: str | None = None
    last_modified: str | None = None
    entries: tuple[FeedEntry, ...] = ()  # newest first; empty on 304
    sitemaps_read: int = 0
    filtered: int = 0  # entries left out by the patterns or the date cutoff
    skipped: Counter[str] = field(default_factory=Counter)  # bad_url, caps
    errors: tuple[SitemapError, ...] = ()  # sitemaps of an index that failed
    complete: bool = True  # False when a cap or a stop request left files or URLs unread

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# -- parsing -------------------------------------------------------------------------


def parse_sitemap(body: bytes, *, url: str, max_bytes: int = 50_000_000) -> ParsedSitemap:
    """Parse a urlset or sitemap index (gzip-compressed or not) with canonical URLs.

    ``url`` is the sitemap's own (final) URL, for relative ``<loc>``s and errors.
    Raises :class:`SitemapError` with reason ``malformed`` when the body is not a
    sitemap, or ``too_large`` when it inflates beyond ``max_bytes``.
    """
    if is_gzip(body):
        body = gunzip_capped(body, url, max_bytes, SitemapError)
    try:
        return _parse_xml(body, url, recover=False)
    except etree.XMLSyntaxError as exc:
        logger.debug("sitemap %s is not well-formed, parsing leniently: %s", url, exc)
        try:
            return _parse_xml(body, url, recover=True)
        except etree.XMLSyntaxError as again:
            raise SitemapError(url, "malformed", f"not XML: {again}") from again


def _parse_xml(body: bytes, url: str, *, recover: bool) -> ParsedSitemap:
    # No entity expansion (billion laughs), no DTD or network fetches (XXE).
    events = etree.iterparse(
        io.BytesIO(body),
        events=("start", "end"),
        recover=recover,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )
    kind: str | None = None
    urls: list[SitemapUrl] = []
    links: list[SitemapLink] = []
    bad = 0
    for event, elem in events:
        name = _local(elem)
        if kind is None:
            if name not in ("urlset", "sitemapindex"):
                raise SitemapError(url, "malformed", f"the root element is <{name}>, not <urlset>")
            kind = name
            continue
        if event != "end" or name not in ("url", "sitemap"):
            continue
        loc = canonical_or_none(_child_text(elem, "loc"), url)
        lastmod = _w3c_date(_child_text(elem, "lastmod"))
        if loc is None:
            bad += 1
        elif name == "sitemap" and kind == "sitemapindex":
            links.append(SitemapLink(url=loc, lastmod=lastmod))
        elif name == "url" and kind == "urlset":
            urls.append(SitemapUrl(entry=_entry(elem, loc), lastmod=lastmod))
        _forget(elem)
    if kind is None:
        raise SitemapError(url, "malformed", "no XML element in it")
    return ParsedSitemap(
        url=url,
        kind="urlset" if kind == "urlset" else "sitemapindex",
        urls=tuple(urls),
        sitemaps=tuple(links),
        bad_urls=bad,
    )


def _entry(elem: etree._Element, loc: str) -> FeedEntry:
    """The entry of a ``<url>``, with its Google News tags when it has them."""
    news = next((c for c in elem if _local(c) == "news"), None)
    if news is None:
        return FeedEntry(url=loc)
    # Looked up inside <news:news> only: <image:title> and friends are not the title.
    language = _descendant_text(news, "language")
    return FeedEntry(
        url=loc,
        title=_descendant_text(news, "title"),
        published_at=_w3c_date(_descendant_text(news, "publication_date")),
        language=language.lower() if language else None,
    )


def _local(elem: etree._Element) -> str:
    """An element's tag without its namespace ('' for comments and the like)."""
    tag = elem.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _child_text(elem: etree._Element, name: str) -> str | None:
    for child in elem:
        if _local(child) == name:
            return (child.text or "").strip() or None
    return None


def _descendant_text(elem: etree._Element, name: str) -> str | None:
    for child in elem.iter():
        if child is not elem and _local(child) == name:
            return (child.text or "").strip() or None
    return None


def _forget(elem: etree._Element) -> None:
    """Free a processed element and its earlier siblings, so memory stays flat."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def _w3c_date(text: str | None) -> datetime | None:
    """A W3C datetime (``2024-10-21``, ``2024-10-21T08:00:00+01:00``, ``2024-10``) in UTC."""
    if not text:
        return None
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    if match := _YEAR_MONTH.match(text):
        try:
            return datetime(int(match[1]), int(match[2] or 1), 1, tzinfo=UTC)
        except ValueError:
            return None
    return None


def _utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- robots.txt ----------------------------------------------------------------------


def robots_url(url: str) -> str | None:
    """The robots.txt to read when ``url`` is a site root or a robots.txt, else None."""
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query:
        return f"{parts.scheme}://{parts.netloc}/robots.txt"
    if parts.path.endswith("/robots.txt"):
        return url
    return None


def robots_sitemaps(body: bytes, *, url: str) -> list[str]:
    """The canonical sitemap URLs of a robots.txt's ``Sitemap:`` lines, in order."""
    robots = Protego.parse(body.decode("utf-8", errors="replace"))
    found = (canonical_or_none(link, url) for link in robots.sitemaps)
    return list(dict.fromkeys(u for u in found if u is not None))


# -- polling -------------------------------------------------------------------------


def poll_sitemaps(
    source: str,
    url: str,
    *,
    settings: CrawlSettings,
    etag: str | None = None,
    last_modified: str | None = None,
    keep: SitemapFilter | None = None,
    client: httpx.Client | None = None,
    stop: threading.Event | None = None,
) -> SitemapPoll:
    """Read a sitemap source: its sitemaps, their indexes, and the URLs they list.

    ``url`` is a sitemap, or a site root / robots.txt whose ``Sitemap:`` lines (or,
    without any, ``/sitemap.xml``) are read. The validators make the GET of a
    sitemap URL conditional (a 304 gives no entries). A sitemap of an index that
    fails is reported in ``errors`` and the others are read; a
    :class:`SitemapError` is raised when nothing could be read. Once ``stop`` is
    set, no further file is fetched and what was read so far is returned.
    """
    http = client or httpx.Client(max_redirects=settings.max_redirects)
    reader = _Reader(source, url, settings, keep or SitemapFilter(), http, stop)
    try:
        return reader.read(etag, last_modified)
    finally:
        if client is None:
            http.close()


class _Reader:
    """One poll of one sitemap source: what has been read, kept and skipped."""

    def __init__(
        self,
        source: str,
        url: str,
        settings: CrawlSettings,
        keep: SitemapFilter,
        http: httpx.Client,
        stop: threading.Event | None,
    ) -> None:
        self.source = source
        self.url = url
        self.settings = settings
        self.keep = keep
        self.http = http
        self.stop = stop or threading.Event()
        self.prefetched: dict[str, Download] = {}
        self.seen: set[str] = set()
        self.kept: dict[str, SitemapUrl] = {}
        self.full = False  # max_sitemap_urls reached
        self.complete = True  # every file there was to read was read
        self.filtered = 0
        self.skipped: Counter[str] = Counter()
        self.errors: list[SitemapError] = []
        self.answered = 0  # files that were urlsets, or indexes listing nothing
        self.files_read = 0
        self.last_request: float | None = None

    def read(self, etag: str | None, last_modified: str | None) -> SitemapPoll:
        robots = robots_url(self.url)
        top: Download | None = None
        if robots is None:
            top = self._get(self.url, etag, last_modified)
            if top.not_modified:
                logger.debug("sitemap %s (%s): not modified", self.url, self.source)
                return SitemapPoll(
                    source=self.source,
                    url=self.url,
                    status=304,
                    etag=top.etag,
                    last_modified=top.last_modified,
                )
            self.prefetched[self.url] = top
            self._read_tree([SitemapLink(url=self.url)], depth=0)
        elif listed := self._listed(robots):
            self._read_tree([SitemapLink(url=u) for u in listed], depth=0)
        else:
            fallback = urljoin(robots, "/sitemap.xml")
            self._read_tree([SitemapLink(url=fallback)], depth=0)
            if not self.answered and self.errors[0].reason.startswith("http_4"):
                raise SitemapError(
                    robots,
                    "no_sitemap",
                    f"it lists no Sitemap: lines and {fallback} answered "
                    f"{self.errors[0].reason.removeprefix('http_')}",
                )
        if not self.answered and self.errors:
            raise self.errors[0]
        entries = sorted(self.kept.values(), key=_newest_first)
        logger.debug(
            "sitemap %s (%s): %d files, %d entries kept, %d filtered, %d failed",
            self.url,
            self.source,
            self.files_read,
            len(entries),
            self.filtered,
            len(self.errors),
        )
        return SitemapPoll(
            source=self.source,
            url=self.url,
            status=top.status if top is not None else 200,
            etag=top.etag if top is not None else None,
            last_modified=top.last_modified if top is not None else None,
            entries=tuple(u.entry for u in entries),
            sitemaps_read=self.files_read,
            filtered=self.filtered,
            skipped=+self.skipped,  # without zero counts
            errors=tuple(self.errors),
            complete=self.complete,
        )

    def _listed(self, robots: str) -> list[str]:
        """The sitemaps a robots.txt lists (none when it is missing)."""
        try:
            got = self._get(robots)
        except SitemapError as exc:
            if exc.reason in ("http_404", "http_410"):
                return []
            raise
        listed = robots_sitemaps(got.body, url=got.final_url)
        logger.debug("robots.txt %s lists %d sitemaps", robots, len(listed))
        return listed

    def _read_tree(self, links: Iterable[SitemapLink], *, depth: int) -> None:
        """Read ``links`` depth first, each file once, within the caps."""
        for link in links:
            if self.full or self.stop.is_set():
                self.complete = False
                return
            if link.url in self.seen:
                logger.debug("sitemap %s (%s): already read, skipped", link.url, self.source)
                continue
            if not self.keep.keeps_date(link.lastmod):
                # A sitemap last changed before the cutoff lists nothing newer.
                logger.debug("sitemap %s (%s): older than the cutoff", link.url, self.source)
                continue
            if self.files_read >= MAX_FILES:
                self.skipped["sitemap_file_cap"] += 1
                self.complete = False
                continue
            self.seen.add(link.url)
            try:
                parsed = self._fetch_and_parse(link.url)
            except SitemapError as exc:
                logger.warning("sitemap %s (%s) failed: %s", link.url, self.source, exc)
                self.errors.append(exc)
                continue
            self.seen.add(parsed.url)
            self.skipped["bad_url"] += parsed.bad_urls
            if parsed.kind == "urlset":
                self.answered += 1
                self._keep(parsed.urls)
            elif depth >= MAX_DEPTH:
                error = SitemapError(link.url, "too_deep", f"indexes nested over {MAX_DEPTH} deep")
                logger.warning("sitemap %s (%s) failed: %s", link.url, self.source, error)
                self.errors.append(error)
            else:
                if not parsed.sitemaps:
                    self.answered += 1  # an empty index is a valid answer
                children = sorted(parsed.sitemaps, key=_newest_link_first)
                self._read_tree(children, depth=depth + 1)

    def _fetch_and_parse(self, url: str) -> ParsedSitemap:
        got = self.prefetched.pop(url, None) or self._get(url)
        self.files_read += 1
        return parse_sitemap(got.body, url=got.final_url, max_bytes=self.settings.max_sitemap_bytes)

    def _keep(self, urls: Sequence[SitemapUrl]) -> None:
        for index, item in enumerate(urls):
            if item.entry.url in self.kept:
                continue
            if not (self.keep.keeps_url(item.entry.url) and self.keep.keeps_date(item.newest_date)):
                self.filtered += 1
                continue
            if len(self.kept) >= self.settings.max_sitemap_urls:
                logger.warning(
                    "sitemap source %s: more than %d URLs, the rest is left for later runs",
                    self.source,
                    self.settings.max_sitemap_urls,
                )
                self.skipped["sitemap_url_cap"] += len(urls) - index
                self.full = True
                self.complete = False
                return
            self.kept[item.entry.url] = item

    def _get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Download:
        """GET ``url``, waiting the crawl delay since the previous request (politeness)."""
        if self.last_request is not None:
            wait = self.last_request + self.settings.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        cap = MAX_ROBOTS_BYTES if url.endswith("/robots.txt") else self.settings.max_sitemap_bytes
        try:
            return download(
                url,
                settings=self.settings,
                max_bytes=cap,
                error=SitemapError,
                accept=SITEMAP_ACCEPT,
                etag=etag,
                last_modified=last_modified,
                client=self.http,
            )
        finally:
            self.last_request = time.monotonic()


def _newest_first(item: SitemapUrl) -> tuple[bool, float]:
    """Sort key: dated entries newest first, then the undated (sort is stable)."""
    date = item.newest_date
    return (date is None, -date.timestamp() if date else 0.0)


def _newest_link_first(link: SitemapLink) -> tuple[bool, float]:
    return (link.lastmod is None, -link.lastmod.timestamp() if link.lastmod else 0.0)
